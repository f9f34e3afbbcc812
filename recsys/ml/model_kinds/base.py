"""The one interface every model kind implements (after implicit's RecommenderBase and Gorse's Model).

A `Model` is one model of one kind, in one of two states:
- fitted here by training (`fit`), holding implicit's estimator in `model`;
- loaded from a saved artifact by serving or the model card (`from_artifact`), holding its arrays.

Training asks it to `fit`, `recommend` (offline evaluation), give its item `similarity` and write
itself `to_artifact`; serving asks it to `prepare_serving`, `score` shoppers' histories (with the
explanation of each score), `explain` and find `similar_items`; the model card asks for `card_lists`.
Nobody outside recsys.ml branches on a kind's name: they read the class properties below instead.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recsys.ml import artifacts, card_figures, evaluation, scoring

ProgressFn = Callable[[float], None]  # fraction done in [0, 1] of the current fit


@dataclass(frozen=True)
class FitOptions:
    num_threads: int = 1
    use_gpu: bool = False
    random_state: int = 0
    ease_max_items: int = 5_000  # larger catalogs skip EASE (dense n x n; CURIO_EASE_MAX_ITEMS)


@dataclass(frozen=True)
class DataSize:
    """What a fit's work depends on, read off the matrix it fits (the search's budget is counted in estimated work)."""

    shoppers: int
    items: int
    interactions: int
    cooccurrences: float  # the sum over shoppers of (row length)^2: the work of an item x item product

    @classmethod
    def of(cls, user_items: sp.csr_matrix) -> DataSize:
        lengths = np.diff(user_items.tocsr().indptr).astype(np.float64)
        return cls(int(user_items.shape[0]), int(user_items.shape[1]), int(user_items.nnz),
                   float(np.dot(lengths, lengths)))


# Seconds per unit of work on the reference machine (the 2-core development VM, 2 threads), fitted to the
# fits and trials of bench/bench_selection.py's 1M- and 10M-event shops and the 10M shop's 1M-interaction sample
# (`--costs` prints estimate and measure side by side; `--verbose` each trial's). An estimate only has to bound the
# search's work within tens of percent; it is never compared with a clock.
SECONDS_PER_COOCCURRENCE = 1.1e-8  # implicit's item-item product (BM25, cosine), EASE's Gram matrix
SECONDS_PER_NEIGHBOUR = 1e-7  # per item and neighbour kept (K): implicit's top-K and scoring with K per item
RP3BETA_SECONDS_PER_COOCCURRENCE = 3.2e-8  # the two-step walk's product, a block of rows at a time
TOP_K_SECONDS_PER_ITEM = 2.6e-5  # one pass of neighbours.top_k_rows (a short numpy step per item row)
ALS_SECONDS_PER_ROW_ITERATION = 3.5e-7  # per (interaction + shopper + item) per iteration at 100 factors
ALS_SECONDS_PER_SCORE = 5e-11  # per shopper x item x factor: scoring folded-in shoppers against every item


@dataclass
class ScoreRequest:
    """One list to score from a history: `n` columns at most, never an `exclude` column, and only
    `candidates` columns when given (a category)."""

    history: scoring.History
    n: int
    exclude: np.ndarray | None = None
    candidates: np.ndarray | None = None


class Model:
    """Base of every kind. Subclasses set the class properties and implement the methods they support."""

    # --- what the kind is (read these instead of comparing kind names) -------------------------
    kind_name: ClassVar[str] = ""  # the name in settings, trials and version params: "als", "bm25", ...
    artifact_kind: ClassVar[str] = ""  # meta.json "kind" and ModelVersion.kind: "als" | "itemknn" | ...
    is_factor_model: ClassVar[bool] = False  # user and item factors (serving folds shoppers in)
    is_item_item: ClassVar[bool] = False  # an item-item similarity is the model itself
    servable: ClassVar[bool] = True  # False: a baseline that is never saved nor served
    warm_starts: ClassVar[bool] = False  # the refit on all data continues from the selection's fit

    def __init__(self, params: dict | None = None, options: FitOptions | None = None, *, kind: str = ""):
        self.kind = kind or self.kind_name
        self.params = dict(params or {})
        self.options = options or FitOptions()
        self.model = None  # the fitted implicit estimator (None when loaded from an artifact, and for baselines)
        self.artifact: artifacts.Artifact | None = None  # what it was loaded from (None when fitted here)
        self.n_items = 0
        self.item_similarity: sp.csr_matrix | None = None  # the top-K neighbours that serving reads

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.params}>"

    # --- the kind's search space and refit --------------------------------------------------------

    @classmethod
    def search_space(cls) -> list[dict]:
        """Parameter sets of the tuning search (none: the kind is not tuned)."""
        return []

    @classmethod
    def skip_reason(cls, shape: tuple[int, int], options: FitOptions) -> str:
        """Why this kind is not fitted on a (shoppers, items) matrix of `shape` ("": it is)."""
        return ""

    @classmethod
    def fit_seconds(cls, size: DataSize, params: dict, options: FitOptions, iterations: int | None = None) -> float:
        """Estimated seconds of one fit on the reference machine, from the data's size alone (never timed):
        the search's budget is counted in these, so the same data gives the same trials on any machine."""
        return 0.0

    @classmethod
    def score_seconds(cls, shoppers: int, size: DataSize, params: dict) -> float:
        """Estimated reference seconds of scoring `shoppers` against a fit of `size` (the selection's folds)."""
        return 0.0

    @classmethod
    def refit_params(cls, params: dict, iterations: int) -> dict:
        """Parameters of the refit on all data; `iterations` is TRAINING_REFIT_ITERATIONS."""
        return dict(params)

    # --- training ---------------------------------------------------------------------------------

    def fit(self, user_items: sp.csr_matrix, *, progress: ProgressFn | None = None, iterations: int | None = None,
            warm_start: Model | None = None) -> Self:
        """Fit on a float32 CSR (shoppers x items). `iterations` overrides the kind's iterations
        (the selection's cheap fits; ignored by kinds without any); `warm_start` is a fitted model
        of the same kind and shape to continue from (ignored unless `warm_starts`)."""
        raise NotImplementedError

    def recommend(self, user_items: sp.csr_matrix, users: np.ndarray, *, k: int = evaluation.K,
                  batch: int = 256, fold_in: bool = False) -> np.ndarray:
        """Top-k item columns for `users` (rows of user_items), seen items filtered, -1 padded.
        `fold_in`: the users took no part in the fit (selection folds); score them from their rows
        as serving does (item-item kinds always do)."""
        raise NotImplementedError

    def similarity(self, top_k: int) -> sp.csr_matrix:
        """Top-K similar items per item (no self-similarity), as float32 CSR (n_items x n_items)."""
        raise ValueError(f"{self.kind} models have no item similarities and are never served")

    # --- the artifact ----------------------------------------------------------------------------

    def artifact_arrays(self) -> dict[str, np.ndarray | None]:
        """The kind's own arrays for artifacts.Artifact (ALS: user_factors, item_factors)."""
        return {}

    def artifact_params(self) -> dict:
        """What the fit derived that serving needs beside the parameters (ALS + BM25: the mean row length)."""
        return {}

    def to_artifact(self, *, version: int, user_ids: np.ndarray, item_ids: np.ndarray, similar_items: int,
                    params: dict) -> artifacts.Artifact:
        """This model as an artifact to save: its arrays and its top-`similar_items` item neighbours."""
        if not self.servable:
            raise ValueError(f"{self.kind} models are never saved")
        self.item_similarity = self.similarity(similar_items)
        return artifacts.Artifact(kind=self.artifact_kind, version=version, user_ids=user_ids, item_ids=item_ids,
                                  similarity=self.item_similarity, params={**params, **self.artifact_params()},
                                  **self.artifact_arrays())

    @classmethod
    def from_artifact(cls, art: artifacts.Artifact) -> Self:
        """A model of this family over a loaded artifact's arrays (memory maps stay memory maps).
        Raises artifacts.ArtifactError when the arrays don't fit together."""
        if art.similarity.shape[0] != len(art.item_ids):
            raise artifacts.ArtifactError(f"{art.path}: similarity shape does not match item ids")
        params = art.params or {}
        model = cls(params, kind=str(params.get("kind") or art.kind))
        model.artifact, model.n_items, model.item_similarity = art, len(art.item_ids), art.similarity
        return model

    # --- serving ---------------------------------------------------------------------------------

    def prepare_serving(self) -> Self:
        """Precompute what every request reuses (once per loaded version)."""
        return self

    @property
    def confidence_scale(self) -> float:
        """Factor on the history confidences serving computes (ALS: its alpha)."""
        return 1.0

    def score(self, requests: list[ScoreRequest], *, num_threads: int = 1) -> list[scoring.Scored]:
        """Score many histories at once: per request the best columns, their scores and, per
        column, the history column contributing most (the explanation)."""
        raise NotImplementedError

    def explain(self, history: scoring.History, cols: np.ndarray) -> np.ndarray:
        """Per column of `cols`, the history column contributing most to its score (-1: none)."""
        raise NotImplementedError

    def similar_items(self, context: scoring.History, n: int, *, exclude: np.ndarray | None = None,
                      candidates: np.ndarray | None = None) -> scoring.Scored:
        """Similar-item / basket candidates: the summed neighbour rows of the context items."""
        if self.item_similarity is None:
            raise ValueError(f"{self.kind} model has no item neighbours yet (load it from its artifact)")
        return scoring.knn_scores(self.item_similarity, context, n, exclude_cols=() if exclude is None else exclude,
                                  candidates=candidates)

    # --- the model card ---------------------------------------------------------------------------

    def card_lists(self, sample: int, k: int) -> tuple[list[np.ndarray] | np.ndarray, str]:
        """The model's own top-k lists for up to `sample` rows, and what they are (the model card)."""
        rows = card_figures.sample_rows(self.n_items, sample)
        return card_figures.top_k_similarity(self.item_similarity, rows, k), "similar-item top-10 lists"
