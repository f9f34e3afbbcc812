"""Fitting implicit models and choosing between them. Pure: numpy/scipy/implicit, no ORM.

Candidate kinds: "als" (implicit ALS), "bm25" and "cosine" (implicit item-item kNN; stored as
artifact kind "itemknn"), and "random" (a sanity baseline that the promotion gate always rejects;
handy to prove the gate works). Callers set BLAS to one thread (see `blas_single_thread`).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from implicit import nearest_neighbours as nn
from implicit.als import AlternatingLeastSquares
from implicit.cpu.topk import topk
from threadpoolctl import threadpool_limits

from recsys.ml import evaluation

ProgressFn = Callable[[float], None]  # fraction done in [0, 1] of the current fit
KNN_KINDS = ("bm25", "cosine")


def blas_single_thread():
    """implicit parallelises itself; a multi-threaded BLAS underneath only oversubscribes."""
    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class Candidate:
    kind: str
    params: dict = field(default_factory=dict)

    @classmethod
    def from_setting(cls, raw: dict) -> Candidate:
        raw = dict(raw)
        kind = raw.pop("kind")
        if kind not in ("als", "random", *KNN_KINDS):
            raise ValueError(f"unknown model kind {kind!r}: use als, bm25, cosine or random")
        return cls(kind=kind, params=raw)

    @property
    def artifact_kind(self) -> str:
        return "itemknn" if self.kind in KNN_KINDS else self.kind

    def label(self) -> str:
        return self.kind + "(" + ", ".join(f"{k}={v}" for k, v in sorted(self.params.items())) + ")"


@dataclass(frozen=True)
class FitOptions:
    num_threads: int = 1
    use_gpu: bool = False
    random_state: int = 0


class FittedModel:
    """A fitted candidate: recommend for matrix rows, derive top-K item similarities."""

    def __init__(self, candidate: Candidate, model, n_items: int, options: FitOptions):
        self.candidate = candidate
        self.model = model
        self.n_items = n_items
        self.options = options

    @property
    def user_factors(self) -> np.ndarray | None:
        return _to_numpy(self.model.user_factors) if self.candidate.kind == "als" else None

    @property
    def item_factors(self) -> np.ndarray | None:
        return _to_numpy(self.model.item_factors) if self.candidate.kind == "als" else None

    def recommend(self, user_items: sp.csr_matrix, users: np.ndarray, *, k: int = evaluation.K,
                  batch: int = 256) -> np.ndarray:
        """Top-k item indices for `users` (rows of user_items), already-seen items filtered.
        Small batches: implicit scores a batch against every item at once (batch x n_items floats)."""
        if self.candidate.kind == "random":
            return evaluation.random_recommendations(user_items, users, k=k, seed=self.options.random_state)
        if self.candidate.kind in KNN_KINDS:
            return knn_recommend(self.model.similarity, user_items, users, k=k)
        out = np.full((len(users), k), -1, dtype=np.int64)
        for start in range(0, len(users), batch):
            chunk = np.asarray(users[start:start + batch])
            ids, scores = self.model.recommend(chunk, user_items[chunk], N=k, filter_already_liked_items=True)
            ids = np.asarray(ids).reshape(len(chunk), -1).astype(np.int64)
            ids[~np.isfinite(np.asarray(scores).reshape(ids.shape))] = -1  # filtered (seen) items score -inf
            out[start:start + len(chunk), : ids.shape[1]] = ids
        return out

    def similarity(self, top_k: int) -> sp.csr_matrix:
        """Top-K similar items per item (no self-similarity), as float32 CSR (n_items x n_items)."""
        if self.candidate.kind == "als":
            return similar_from_factors(self.item_factors, top_k, num_threads=self.options.num_threads)
        if self.candidate.kind in KNN_KINDS:
            return top_k_per_row(self.model.similarity, top_k)
        raise ValueError(f"{self.candidate.kind} models have no item similarities and are never served")


def fit(candidate: Candidate, user_items: sp.csr_matrix, *, options: FitOptions,
        progress: ProgressFn | None = None, iterations: int | None = None,
        warm_start: FittedModel | None = None) -> FittedModel:
    """Fit one candidate. `iterations` overrides ALS iterations (cheap selection fits);
    `warm_start` continues from an ALS model of the same shape (the refit on all data)."""
    user_items = user_items.tocsr().astype(np.float32, copy=False)
    params = dict(candidate.params)
    if candidate.kind == "random":
        model = None
    elif candidate.kind == "als":
        n_iter = int(iterations or params.get("iterations", 15))
        model = AlternatingLeastSquares(
            factors=int(params.get("factors", 64)), regularization=float(params.get("regularization", 0.05)),
            alpha=float(params.get("alpha", 1.0)), iterations=n_iter, num_threads=options.num_threads,
            use_gpu=options.use_gpu, random_state=options.random_state, calculate_training_loss=False,
        )
        if warm_start is not None and warm_start.candidate.kind == "als":
            model.user_factors = warm_start.model.user_factors
            model.item_factors = warm_start.model.item_factors

        def callback(iteration, _elapsed, _loss):
            if progress:
                progress((iteration + 1) / n_iter)

        model.fit(user_items, show_progress=False, callback=callback)
        if options.use_gpu and hasattr(model, "to_cpu"):
            model = model.to_cpu()
    else:
        if candidate.kind == "bm25":
            model = nn.BM25Recommender(K=int(params.get("K", 100)), K1=float(params.get("K1", 1.2)),
                                       B=float(params.get("B", 0.75)), num_threads=options.num_threads)
        else:
            model = nn.CosineRecommender(K=int(params.get("K", 100)), num_threads=options.num_threads)
        with warnings.catch_warnings():  # implicit's BM25 weighting hands its own fit a COO matrix
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(user_items, show_progress=False)
    if progress:
        progress(1.0)
    return FittedModel(candidate, model, user_items.shape[1], options)


def _to_numpy(array) -> np.ndarray:
    return array.to_numpy() if hasattr(array, "to_numpy") else np.asarray(array)


def knn_recommend(similarity: sp.csr_matrix, user_items: sp.csr_matrix, users: np.ndarray, *, k: int,
                  batch: int = 256) -> np.ndarray:
    """Item-item scores (history x similarity, as implicit's ItemItemRecommender scores them) for a
    batch of users at once with sparse products, minus seen items; top-k per row, -1 padded.
    implicit's own batch recommend loops over users in Python (about 0.3 ms per user)."""
    out = np.full((len(users), k), -1, dtype=np.int64)
    similarity = similarity.tocsr()
    for start in range(0, len(users), batch):
        history = user_items[np.asarray(users[start:start + batch])]
        scores = (history @ similarity).tocsr()
        seen = history.copy()
        seen.data[:] = 1.0
        scores = (scores - scores.multiply(seen)).tocsr()  # drop seen items
        scores.data[scores.data <= 0] = 0
        scores.eliminate_zeros()
        top = top_k_rows(scores, k)
        out[start:start + len(top)] = top
    return out


def top_k_rows(scores: sp.csr_matrix, k: int, *, exclude_self: bool = False, with_values: bool = False):
    """Column indices of the k largest positive entries per row, best first, -1 padded (and their
    values if asked). A short loop per row (argpartition on its entries) beats one global sort of
    all entries and copies nothing big. exclude_self skips the diagonal (item-item similarity)."""
    out = np.full((scores.shape[0], k), -1, dtype=np.int64)
    vals = np.zeros((scores.shape[0], k), dtype=np.float32)
    indptr, indices, data = scores.indptr, scores.indices, scores.data
    for row in range(scores.shape[0]):
        a, b = indptr[row], indptr[row + 1]
        if a == b:
            continue
        cols, values = indices[a:b], data[a:b]
        ok = values > 0
        if exclude_self:
            ok &= cols != row
        if not ok.all():
            cols, values = cols[ok], values[ok]
        if len(values) > k:
            best = np.argpartition(-values, k)[:k]
            best = best[np.argsort(-values[best], kind="stable")]
        else:
            best = np.argsort(-values, kind="stable")
        out[row, : len(best)] = cols[best]
        vals[row, : len(best)] = values[best]
    return (out, vals) if with_values else out


def similar_from_factors(item_factors: np.ndarray, top_k: int, *, num_threads: int = 1,
                         block: int = 512) -> sp.csr_matrix:
    """Cosine top-K neighbours from ALS item factors (implicit's C++ top-k, blocked for memory)."""
    factors = np.ascontiguousarray(item_factors, dtype=np.float32)
    norms = np.linalg.norm(factors, axis=1)
    normed = factors / np.where(norms > 0, norms, 1.0)[:, None]
    n = len(normed)
    k = min(top_k + 1, n)
    ids = np.empty((n, k), dtype=np.int64)
    scores = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        i, s = topk(normed, normed[start:start + block], k, num_threads=num_threads)
        ids[start:start + block], scores[start:start + block] = i, s
    rows = np.repeat(np.arange(n), k)
    cols, data = ids.ravel(), scores.ravel()
    keep = (cols != rows) & (cols >= 0) & (data > 0) & np.isfinite(data)
    result = sp.csr_matrix((data[keep], (rows[keep], cols[keep])), shape=(n, n), dtype=np.float32)
    return top_k_per_row(result, top_k)


def top_k_per_row(matrix: sp.spmatrix, top_k: int) -> sp.csr_matrix:
    """The top_k largest positive off-diagonal entries of each row, as a new float32 CSR."""
    cols, vals = top_k_rows(sp.csr_matrix(matrix), top_k, exclude_self=True, with_values=True)
    rows, slots = np.nonzero(cols >= 0)
    out = sp.csr_matrix((vals[rows, slots], (rows, cols[rows, slots])), shape=matrix.shape, dtype=np.float32)
    out.sort_indices()
    return out


@dataclass
class Trial:
    candidate: Candidate
    metrics: dict
    seconds: float

    def as_dict(self) -> dict:
        return {"kind": self.candidate.kind, "params": self.candidate.params,
                "ndcg@10": round(self.metrics["ndcg@10"], 5), "recall@10": round(self.metrics["recall@10"], 5),
                "coverage": round(self.metrics["coverage"], 5), "seconds": round(self.seconds, 3)}


def select(candidates: list[Candidate], train: sp.csr_matrix, test: sp.csr_matrix, eval_users: np.ndarray, *,
           options: FitOptions, sample_users: int, eval_sample: int, iterations: int | None, seed: int = 0,
           progress: ProgressFn | None = None, deadline: float | None = None,
           on_trial: Callable[[Trial], None] | None = None) -> list[Trial]:
    """Fit every candidate on a seeded shopper subsample of `train` (all eval shoppers of the sample
    plus others up to `sample_users`), score each on up to `eval_sample` of the eval shoppers.
    Returns trials best first (by nDCG@10). One candidate (and no deadline): nothing to choose,
    nothing fitted. With a `deadline` (time.monotonic()) candidates are tried in order until it
    passes (the tuning search); `on_trial` sees each trial as it ends."""
    if len(candidates) == 1 and deadline is None:
        return [Trial(candidates[0], dict.fromkeys(evaluation.METRIC_NAMES, 0.0), 0.0)]
    rng = np.random.default_rng(seed)
    scored = eval_users if len(eval_users) <= eval_sample else np.sort(
        rng.choice(eval_users, size=eval_sample, replace=False))
    n_users = train.shape[0]
    if n_users > sample_users:
        others = np.setdiff1d(np.arange(n_users), scored)
        extra = rng.choice(others, size=max(sample_users - len(scored), 0), replace=False)
        rows = np.sort(np.concatenate([scored, extra]))
    else:
        rows = np.arange(n_users)
    sub_train = train[rows]
    sub_scored = np.searchsorted(rows, scored)
    sub_test = test[scored]
    popularity = np.bincount(train.indices, minlength=train.shape[1])
    trials = []
    for index, candidate in enumerate(candidates):
        if deadline is not None and time.monotonic() >= deadline:
            break
        started = time.perf_counter()

        def step(fraction, index=index):
            if progress:
                progress((index + fraction) / len(candidates))

        fitted = fit(candidate, sub_train, options=options, progress=step,
                     iterations=iterations if candidate.kind == "als" else None)
        recs = fitted.recommend(sub_train, sub_scored)
        metrics = evaluation.ranking_metrics(recs, sub_test, n_items=train.shape[1], popularity=popularity)
        trials.append(Trial(candidate, metrics, time.perf_counter() - started))
        if on_trial:
            on_trial(trials[-1])
    return sorted(trials, key=lambda t: -t.metrics["ndcg@10"])


def tuning_space(seed: int = 0) -> list[Candidate]:
    """The larger search space of the tuning task, in a seeded random order."""
    space = [Candidate("als", {"factors": f, "regularization": r, "alpha": a, "iterations": 15})
             for f in (32, 64, 128) for r in (0.01, 0.1, 1.0) for a in (1.0, 5.0, 20.0)]
    space += [Candidate("bm25", {"K": k, "K1": k1, "B": b})
              for k in (50, 100, 200) for k1 in (0.6, 1.2, 2.0) for b in (0.25, 0.5, 0.75)]
    space += [Candidate("cosine", {"K": k}) for k in (20, 50, 100, 200)]
    order = np.random.default_rng(seed).permutation(len(space))
    return [space[i] for i in order]
