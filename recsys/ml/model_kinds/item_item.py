"""Item-item neighbours (implicit's BM25 and cosine ItemItemRecommender); artifact kind "itemknn".

The model is the item-item similarity itself: offline evaluation scores history x the full
similarity (neighbours.knn_recommend), the artifact keeps its top-K per item, and serving sums the
similarity rows of a shopper's history items (scoring.knn_scores), which also names the history
item contributing most to each score.
"""
from __future__ import annotations

import warnings
from typing import Self

import numpy as np
import scipy.sparse as sp
from implicit import nearest_neighbours as nn

from recsys.ml import evaluation, neighbours, scoring
from recsys.ml.model_kinds.base import (
    SECONDS_PER_COOCCURRENCE,
    SECONDS_PER_NEIGHBOUR,
    DataSize,
    FitOptions,
    Model,
    ProgressFn,
    ScoreRequest,
)


class ItemItemModel(Model):
    """The family: what bm25 and cosine share (and what serving loads an "itemknn" artifact as)."""

    artifact_kind = "itemknn"
    is_item_item = True
    binary_default = False  # EASE: True (Steck's X is 0/1)

    @property
    def binary(self) -> bool:
        """Rows and histories count each item once (1), whatever its confidence: params["binary"],
        saved in the artifact's params so the loaded family class serves the same way."""
        return bool(self.params.get("binary", self.binary_default))

    def _rows(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        if not self.binary:
            return user_items
        out = user_items.tocsr().astype(np.float32, copy=True)
        out.data[:] = 1.0
        return out

    def _history(self, history: scoring.History) -> scoring.History:
        return scoring.History(history.cols, np.ones(len(history), np.float32)) if self.binary else history

    def artifact_params(self) -> dict:
        return {"binary": True} if self.binary else {}

    @classmethod
    def fit_seconds(cls, size: DataSize, params: dict, options: FitOptions, iterations: int | None = None) -> float:
        neighbours_kept = SECONDS_PER_NEIGHBOUR * int(params.get("K", 100)) * size.items
        return SECONDS_PER_COOCCURRENCE * size.cooccurrences + 5e-8 * size.interactions + neighbours_kept

    def _estimator(self) -> nn.ItemItemRecommender:
        raise NotImplementedError(f"{self.kind} is served from its artifact; fit a bm25 or cosine model")

    def fit(self, user_items: sp.csr_matrix, *, progress: ProgressFn | None = None, iterations: int | None = None,
            warm_start: Model | None = None) -> Self:
        model = self._estimator()
        with warnings.catch_warnings():  # implicit's BM25 weighting hands its own fit a COO matrix
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(user_items, show_progress=False)
        self.model, self.n_items = model, user_items.shape[1]
        return self

    def _full_similarity(self) -> sp.csr_matrix:
        """The fitted estimator's whole similarity (else the artifact's top-K neighbours)."""
        return self.model.similarity if self.model is not None else self.item_similarity

    def recommend(self, user_items: sp.csr_matrix, users: np.ndarray, *, k: int = evaluation.K,
                  batch: int = 256, fold_in: bool = False) -> np.ndarray:
        return neighbours.knn_recommend(self._full_similarity(), self._rows(user_items), users, k=k, batch=batch)

    def similarity(self, top_k: int) -> sp.csr_matrix:
        return neighbours.top_k_per_row(self._full_similarity(), top_k)

    def score(self, requests: list[ScoreRequest], *, num_threads: int = 1) -> list[scoring.Scored]:
        return [scoring.knn_scores(self.item_similarity, self._history(r.history), r.n,
                                   exclude_cols=() if r.exclude is None else r.exclude, candidates=r.candidates)
                for r in requests]

    def explain(self, history: scoring.History, cols: np.ndarray) -> np.ndarray:
        cols, history = np.asarray(cols, dtype=np.int64), self._history(history)
        if len(history) == 0 or len(cols) == 0:
            return np.full(len(cols), -1, dtype=np.int64)
        contrib = self.item_similarity[history.cols][:, cols].toarray() * history.conf[:, None]
        top = history.cols[np.argmax(contrib, axis=0)].astype(np.int64)
        return np.where(contrib.max(axis=0) > 0, top, -1)


class BM25Model(ItemItemModel):
    kind_name = "bm25"

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"K": k, "K1": k1, "B": b} for k in (50, 100, 200) for k1 in (0.6, 1.2, 2.0) for b in (0.25, 0.5, 0.75)]

    def _estimator(self) -> nn.ItemItemRecommender:
        p = self.params
        return nn.BM25Recommender(K=int(p.get("K", 100)), K1=float(p.get("K1", 1.2)), B=float(p.get("B", 0.75)),
                                  num_threads=self.options.num_threads)


class CosineModel(ItemItemModel):
    kind_name = "cosine"

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"K": k} for k in (20, 50, 100, 200)]

    def _estimator(self) -> nn.ItemItemRecommender:
        return nn.CosineRecommender(K=int(self.params.get("K", 100)), num_threads=self.options.num_threads)
