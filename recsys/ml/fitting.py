"""Fitting candidates and choosing between them. Pure: numpy/scipy/implicit, no ORM.

A candidate is a kind name and its parameters; recsys.ml.model_kinds holds the kinds ("als",
"bm25", "cosine", "random") and how each fits, recommends and is saved. This module fits them
(`fit`, `refit`), compares them on a subsample (`select`) and lists the tuning search space.
Callers set BLAS to one thread (see `blas_single_thread`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.ml import evaluation, model_kinds
from recsys.ml.model_kinds import FitOptions, Model, ProgressFn

__all__ = ["Candidate", "FitOptions", "Model", "ProgressFn", "Trial", "blas_single_thread", "fit", "refit", "select",
           "tuning_space"]


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
        model_kinds.kind_class(kind)  # ValueError for an unknown kind
        return cls(kind=kind, params=raw)

    @property
    def artifact_kind(self) -> str:
        return model_kinds.kind_class(self.kind).artifact_kind

    def label(self) -> str:
        return self.kind + "(" + ", ".join(f"{k}={v}" for k, v in sorted(self.params.items())) + ")"


def fit(candidate: Candidate, user_items: sp.csr_matrix, *, options: FitOptions,
        progress: ProgressFn | None = None, iterations: int | None = None,
        warm_start: Model | None = None) -> Model:
    """Fit one candidate. `iterations` overrides the kind's iterations (cheap selection fits);
    `warm_start` continues from a fitted model of the same kind and shape (kinds that warm-start)."""
    user_items = user_items.tocsr().astype(np.float32, copy=False)
    model = model_kinds.create(candidate.kind, candidate.params, options)
    model.fit(user_items, progress=progress, iterations=iterations, warm_start=warm_start)
    if progress:
        progress(1.0)
    return model


def refit(candidate: Candidate, user_items: sp.csr_matrix, *, options: FitOptions, iterations: int,
          progress: ProgressFn | None = None, warm_start: Model | None = None) -> Model:
    """The winner's fit on all data. A kind that warm-starts continues from `warm_start` (the fit
    on the training split) for `iterations`; any other fits afresh (pass no warm_start then, so the
    earlier fit can be freed first: `warm_starts` says which)."""
    kind = model_kinds.kind_class(candidate.kind)
    again = Candidate(candidate.kind, kind.refit_params(candidate.params, iterations))
    return fit(again, user_items, options=options, progress=progress,
               warm_start=warm_start if kind.warm_starts else None)


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

        fitted = fit(candidate, sub_train, options=options, progress=step, iterations=iterations)
        recs = fitted.recommend(sub_train, sub_scored)
        metrics = evaluation.ranking_metrics(recs, sub_test, n_items=train.shape[1], popularity=popularity)
        trials.append(Trial(candidate, metrics, time.perf_counter() - started))
        if on_trial:
            on_trial(trials[-1])
    return sorted(trials, key=lambda t: -t.metrics["ndcg@10"])


def tuning_space(seed: int = 0) -> list[Candidate]:
    """The larger search space of the tuning task (each kind's own), in a seeded random order."""
    space = [Candidate(name, params) for name, kind in model_kinds.KINDS.items() for params in kind.search_space()]
    order = np.random.default_rng(seed).permutation(len(space))
    return [space[i] for i in order]
