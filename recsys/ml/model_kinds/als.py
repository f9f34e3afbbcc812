"""ALS (implicit's AlternatingLeastSquares): a factor model; artifact kind "als".

Serving folds a shopper in from the history on every request (scoring.als_fold_in, with YtY
computed once per loaded version), takes the exact top-k by scanning items in descending factor
norm (scoring.als_top_pruned) and explains each score from the fold-in's system matrix. Its item
neighbours (similar/basket lists) are the cosine top-K of the item factors.

Confidences (params["weighting"]): "linear" (alpha x the event-weight sum; versions without the
parameter), "log" (alpha x log(1 + sum)) or "bm25" (alpha x implicit's bm25_weight of the rows,
with bm25_K1 / bm25_B; the items' idf and the mean row length are saved so that fold-in weighs a
history exactly as training weighed that shopper's row).
"""
from __future__ import annotations

import logging
from typing import Self

import numpy as np
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import bm25_weight

from recsys.ml import artifacts, card_figures, evaluation, neighbours, scoring
from recsys.ml.model_kinds.base import (
    ALS_SECONDS_PER_ROW_ITERATION,
    ALS_SECONDS_PER_SCORE,
    DataSize,
    FitOptions,
    Model,
    ProgressFn,
    ScoreRequest,
)

log = logging.getLogger(__name__)
DEFAULT_FACTORS = 64  # a candidate without "factors"
SERVING_REGULARIZATION = 0.01  # fold-in regularization of a version whose params name none
WEIGHTINGS = ("linear", "log", "bm25")
MIN_CONFIDENCE = 1e-3  # BM25's idf is ~0 for an item nearly everyone has; ALS needs confidences > 0


def _to_numpy(array) -> np.ndarray:
    return array.to_numpy() if hasattr(array, "to_numpy") else np.asarray(array)


class ALSModel(Model):
    kind_name = "als"
    artifact_kind = "als"
    is_factor_model = True
    warm_starts = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.yty: np.ndarray | None = None  # serving: YtY, once per version
        self.norm_order: scoring.NormOrder | None = None  # serving: the pruned top-k's scan order
        self.item_idf: np.ndarray | None = None  # bm25 weighting: per item, from the fit (or the artifact)
        self.avg_len = float(self.params.get("bm25_avg_len", 1.0))
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"als weighting {self.weighting!r}: use linear, log or bm25")

    @classmethod
    def search_space(cls) -> list[dict]:
        linear = [{"factors": f, "regularization": r, "alpha": a, "iterations": 15}
                  for f in (32, 64, 128) for r in (0.01, 0.1, 1.0) for a in (1.0, 5.0, 20.0)]
        weighted = [{"factors": f, "regularization": r, "alpha": a, "iterations": 15, "weighting": "log"}
                    for f in (64, 128) for r in (0.1, 1.0) for a in (2.0, 10.0, 40.0)]
        weighted += [{"factors": f, "regularization": r, "alpha": a, "iterations": 15, "weighting": "bm25",
                      "bm25_K1": k1, "bm25_B": b}
                     for f in (64, 128) for r in (0.1, 1.0) for a in (2.0, 10.0, 40.0) for k1 in (1.2, 100.0)
                     for b in (0.5, 0.8)]
        return linear + weighted

    @property
    def weighting(self) -> str:
        return str(self.params.get("weighting", "linear"))

    @classmethod
    def refit_params(cls, params: dict, iterations: int) -> dict:
        return {**params, "iterations": iterations}

    @classmethod
    def fit_seconds(cls, size: DataSize, params: dict, options: FitOptions, iterations: int | None = None) -> float:
        # implicit's conjugate-gradient ALS: a pass over every interaction and row per iteration, growing
        # less than linearly with the factors (64 factors cost 0.6-0.9 of 100 on the bench's shops).
        n_iter = int(iterations or params.get("iterations", 15))
        factors = float(params.get("factors", DEFAULT_FACTORS))
        rows = size.interactions + size.shoppers + size.items
        return ALS_SECONDS_PER_ROW_ITERATION * n_iter * rows * (0.3 + 0.7 * factors / 100)

    @classmethod
    def score_seconds(cls, shoppers: int, size: DataSize, params: dict) -> float:
        return ALS_SECONDS_PER_SCORE * shoppers * size.items * float(params.get("factors", DEFAULT_FACTORS))  # dense

    @property
    def regularization(self) -> float:
        """The fold-in's regularization: the version's own. A version whose params name none (its
        candidate setting left the fit's default, 0.05) folds in with 0.01, as serving always has."""
        return float(self.params.get("regularization", SERVING_REGULARIZATION))

    @property
    def confidence_scale(self) -> float:
        """Serving scales linear histories itself; weighted ones are weighed (with alpha) in `_weighed`."""
        return float(self.params.get("alpha", 1.0)) if self.weighting == "linear" else 1.0

    def _weigh_rows(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        """Rows of raw confidences as the fit sees them (before implicit's alpha)."""
        if self.weighting == "linear":
            return user_items
        out = user_items.tocsr().astype(np.float32, copy=True)
        if self.weighting == "log":
            out.data = np.log1p(out.data)
            return out
        k1, b = float(self.params.get("bm25_K1", 1.2)), float(self.params.get("bm25_B", 0.75))
        lengths = np.asarray(out.sum(axis=1)).ravel()
        norm = (1.0 - b) + b * lengths / self.avg_len
        rows = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
        out.data = out.data * (k1 + 1.0) / (k1 * norm[rows] + out.data) * self.item_idf[out.indices]
        out.data = np.maximum(out.data, MIN_CONFIDENCE).astype(np.float32)
        return out

    def _fit_weights(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        """The fit's rows; BM25 first derives (and keeps) the idf and mean row length it weighs by."""
        if self.weighting == "bm25":
            probe = bm25_weight(sp.csr_matrix((np.ones(user_items.nnz, np.float32), user_items.indices,
                                               user_items.indptr), shape=user_items.shape), K1=1.0, B=0.0)
            idf = np.zeros(user_items.shape[1], dtype=np.float32)  # bm25_weight(K1=1, B=0) of a 1 is its idf
            idf[probe.col] = probe.data
            self.item_idf = idf
            self.avg_len = float(np.asarray(user_items.sum(axis=1)).mean()) or 1.0
        return self._weigh_rows(user_items).tocsr().astype(np.float32, copy=False)

    def _weighed(self, history: scoring.History) -> scoring.History:
        """A serving history weighed like the fit's rows (alpha included); linear ones come scaled."""
        if self.weighting == "linear" or len(history) == 0:
            return history
        row = sp.csr_matrix((history.conf, history.cols, [0, len(history)]), shape=(1, self.n_items))
        conf = self._weigh_rows(row).data * float(self.params.get("alpha", 1.0))
        return scoring.History(history.cols, conf.astype(np.float32))

    def artifact_params(self) -> dict:
        return {"bm25_avg_len": self.avg_len} if self.weighting == "bm25" else {}

    @property
    def user_factors(self) -> np.ndarray | None:
        if self.model is not None:
            return _to_numpy(self.model.user_factors)
        return self.artifact.user_factors if self.artifact is not None else None

    @property
    def item_factors(self) -> np.ndarray | None:
        if self.model is not None:
            return _to_numpy(self.model.item_factors)
        return self.artifact.item_factors if self.artifact is not None else None

    # --- training ---------------------------------------------------------------------------------

    def fit(self, user_items: sp.csr_matrix, *, progress: ProgressFn | None = None, iterations: int | None = None,
            warm_start: Model | None = None) -> Self:
        params, options = self.params, self.options
        n_iter = int(iterations or params.get("iterations", 15))
        model = AlternatingLeastSquares(
            factors=int(params.get("factors", DEFAULT_FACTORS)),
            regularization=float(params.get("regularization", 0.05)),
            alpha=float(params.get("alpha", 1.0)), iterations=n_iter, num_threads=options.num_threads,
            use_gpu=options.use_gpu, random_state=options.random_state, calculate_training_loss=False,
        )
        if isinstance(warm_start, ALSModel) and warm_start.model is not None:
            model.user_factors = warm_start.model.user_factors
            model.item_factors = warm_start.model.item_factors

        def callback(iteration, _elapsed, _loss):
            if progress:
                progress((iteration + 1) / n_iter)

        model.fit(self._fit_weights(user_items), show_progress=False, callback=callback)
        if options.use_gpu and hasattr(model, "to_cpu"):
            model = model.to_cpu()
        self.model, self.n_items = model, user_items.shape[1]
        return self

    def recommend(self, user_items: sp.csr_matrix, users: np.ndarray, *, k: int = evaluation.K,
                  batch: int = 256, fold_in: bool = False) -> np.ndarray:
        """Small batches: implicit scores a batch against every item at once (batch x n_items floats).
        `fold_in`: implicit's recalculate_user, the least-squares step serving's fold-in takes."""
        if self.model is None:
            raise ValueError("offline evaluation needs the fitted estimator")
        out = np.full((len(users), k), -1, dtype=np.int64)
        for start in range(0, len(users), batch):
            chunk = np.asarray(users[start:start + batch])
            rows = user_items[chunk]
            weighed = self._weigh_rows(rows).tocsr().astype(np.float32, copy=False) if fold_in else rows
            ids, scores = self.model.recommend(np.arange(len(chunk)) if fold_in else chunk, weighed, N=k,
                                               filter_already_liked_items=True, recalculate_user=fold_in)
            ids = np.asarray(ids).reshape(len(chunk), -1).astype(np.int64)
            ids[~np.isfinite(np.asarray(scores).reshape(ids.shape))] = -1  # filtered (seen) items score -inf
            out[start:start + len(chunk), : ids.shape[1]] = ids
        return out

    def similarity(self, top_k: int) -> sp.csr_matrix:
        return neighbours.similar_from_factors(self.item_factors, top_k, num_threads=self.options.num_threads)

    # --- the artifact ----------------------------------------------------------------------------

    def artifact_arrays(self) -> dict[str, np.ndarray | None]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors, "item_weights": self.item_idf}

    @classmethod
    def from_artifact(cls, art: artifacts.Artifact) -> Self:
        if art.item_factors is None:
            raise artifacts.ArtifactError(f"{art.path}: ALS artifact without item factors")
        model = super().from_artifact(art)
        if art.item_factors.shape[0] != len(art.item_ids):
            raise artifacts.ArtifactError(f"{art.path}: item factors do not match item ids")
        if model.weighting == "bm25":
            if art.item_weights is None or len(art.item_weights) != len(art.item_ids):
                raise artifacts.ArtifactError(f"{art.path}: BM25-weighted ALS artifact without item weights")
            model.item_idf = np.asarray(art.item_weights)
        return model

    # --- serving ---------------------------------------------------------------------------------

    def prepare_serving(self) -> Self:
        self.yty = scoring.gram(self.item_factors)  # once per version, not per request
        self.norm_order = self._checked_norm_order()
        return self

    def _checked_norm_order(self) -> scoring.NormOrder:
        """The pruned top-k's scan order from the artifact's derived files, or computed from the item
        factors when they are missing or don't fit them (a wrong order would silently drop items)."""
        factors, art = self.item_factors, self.artifact
        cols, by_norm = (art.item_norm_order, art.item_factors_by_norm) if art is not None else (None, None)
        if cols is None or by_norm is None:  # fitted here, or a version saved before the sorted copy existed
            return scoring.NormOrder.of(factors)
        cols, by_norm = np.asarray(cols), np.asarray(by_norm)  # plain views of the memory maps
        probe = np.linspace(0, len(factors) - 1, 16).astype(np.int64) if len(factors) else np.zeros(0, np.int64)
        if _is_permutation(cols, len(factors)) and by_norm.shape == factors.shape \
                and np.array_equal(by_norm[probe], factors[cols[probe]]):
            order = scoring.NormOrder.of(factors, cols, by_norm)
            if np.all(order.norms[:-1] >= order.norms[1:]):  # the scan's stopping bound relies on it
                return order
        log.warning("%s: item_norm_order/item_factors_by_norm do not fit the item factors; computing the order "
                    "instead", art.path)
        return scoring.NormOrder.of(factors)

    def score(self, requests: list[ScoreRequest], *, num_threads: int = 1) -> list[scoring.Scored]:
        """Fold-ins, then one exact pruned top-k for a single unrestricted list, one batched top-k
        for several, and a top-k within the candidates for each restricted one."""
        factors = self.item_factors
        requests = [ScoreRequest(self._weighed(r.history), r.n, r.exclude, r.candidates) for r in requests]
        folded = [scoring.als_fold_in(factors, self.yty, self.regularization, r.history) for r in requests]
        out: list[scoring.Scored | None] = [None] * len(requests)
        plain = [i for i, r in enumerate(requests) if r.candidates is None]
        if len(plain) == 1:  # the common case, one list: exact top-k over the items in norm order
            i = plain[0]
            ids, scores = scoring.als_top_pruned(factors, self.norm_order, folded[i][0], requests[i].n,
                                                 requests[i].exclude)
            out[i] = self._explained(requests[i].history, folded[i][1], ids, scores)
        elif plain:
            vectors = np.stack([folded[i][0] for i in plain])  # a batch: one blocked top-k for all rows
            exclude = scoring.exclusion_rows([requests[i].exclude for i in plain], self.n_items)
            n = max(requests[i].n for i in plain)
            ids, scores = scoring.als_top(factors, vectors, n, exclude, num_threads=num_threads)
            for row, i in enumerate(plain):
                out[i] = self._explained(requests[i].history, folded[i][1], ids[row][: requests[i].n],
                                         scores[row][: requests[i].n])
        for i, r in enumerate(requests):
            if r.candidates is not None:
                ids, scores = scoring.als_top(factors, folded[i][0][None, :], r.n, r.exclude,
                                              candidates=r.candidates, num_threads=num_threads)
                out[i] = self._explained(r.history, folded[i][1], ids[0], scores[0])
        return out

    def _explained(self, history: scoring.History, system, ids: np.ndarray, scores: np.ndarray) -> scoring.Scored:
        keep = (ids >= 0) & (scores > scoring.FILTERED)  # topk marks filtered columns -FLT_MAX
        ids, scores = ids[keep], scores[keep]
        return scoring.Scored(ids, scores, scoring.als_explain(self.item_factors, system, history, ids))

    def explain(self, history: scoring.History, cols: np.ndarray) -> np.ndarray:
        history = self._weighed(history)
        _, system = scoring.als_fold_in(self.item_factors, self.yty, self.regularization, history)
        return scoring.als_explain(self.item_factors, system, history, np.asarray(cols, dtype=np.int64))

    # --- the model card ---------------------------------------------------------------------------

    def card_lists(self, sample: int, k: int):
        user_ids = self.artifact.user_ids if self.artifact is not None else None
        if self.user_factors is not None and user_ids is not None and len(user_ids):
            known = np.flatnonzero(user_ids != "")  # erased rows are empty
            rows = card_figures.sample_rows(len(known), sample)
            lists = card_figures.top_k_factors(self.user_factors, self.item_factors, known[rows], k)
            return lists, "shoppers' top-10 lists (user x item factors)"
        return super().card_lists(sample, k)


def _is_permutation(cols: np.ndarray, n: int) -> bool:
    return cols.shape == (n,) and np.issubdtype(cols.dtype, np.integer) and (
        n == 0 or (0 <= cols.min() and cols.max() < n and np.bincount(cols, minlength=n).max() == 1))
