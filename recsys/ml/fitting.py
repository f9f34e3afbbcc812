"""Fitting candidates and choosing between them. Pure: numpy/scipy/implicit, no ORM.

A candidate is a kind name and its parameters; recsys.ml.model_kinds holds the kinds ("als",
"bm25", "cosine", "ease", "rp3beta", "random") and how each fits, recommends and is saved. This
module fits them (`fit`, `refit`), compares them on user-disjoint folds of a selection sample
(`selection_folds`, `search`: a budgeted race that drops candidates clearly behind) and lists
the search space (`tuning_space`).
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

__all__ = ["Candidate", "FitOptions", "Folds", "Model", "ProgressFn", "Trial", "blas_single_thread", "fit", "ranked",
           "refit", "search", "search_starts", "selection_folds", "split_eval_users", "tuning_space"]


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


DROP_MARGIN = 0.10  # a candidate this far behind the best (relative, on the same folds) stops early


@dataclass
class Folds:
    """The selection sample: its shoppers' training rows and held-out items, and its scored
    shoppers in user-disjoint folds. A fold's shoppers take no part in that fold's fit: they are
    folded in from their rows when scored, as serving folds a shopper in."""

    train: sp.csr_matrix
    test: sp.csr_matrix  # same rows as train
    folds: list[np.ndarray]  # row indices of train, disjoint
    popularity: np.ndarray

    def score(self, candidate: Candidate, fold: int, *, options: FitOptions, iterations: int | None) -> float:
        """nDCG@10 on fold `fold` of `candidate` fitted on the sample's other shoppers."""
        scored = self.folds[fold]
        keep = np.setdiff1d(np.arange(self.train.shape[0]), scored, assume_unique=True)
        model = fit(candidate, self.train[keep], options=options, iterations=iterations)
        recs = model.recommend(self.train, scored, fold_in=True)
        return evaluation.ranking_metrics(recs, self.test[scored], n_items=self.train.shape[1],
                                          popularity=self.popularity)["ndcg@10"]


def split_eval_users(eval_users: np.ndarray, *, selection_users: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(selection shoppers, holdout shoppers): disjoint, seeded; the selection gets at most half.
    The holdout scores only the winner, so its figure is not inflated by having picked it."""
    order = np.random.default_rng(seed).permutation(np.asarray(eval_users))
    n = max(1, min(selection_users, len(order) // 2))
    return np.sort(order[:n]), np.sort(order[n:])


def selection_folds(train: sp.csr_matrix, test: sp.csr_matrix, users: np.ndarray, *, n_folds: int,
                    sample_users: int, seed: int = 0) -> Folds:
    """The selection sample: all of `users` (scored, split into `n_folds` folds) plus other
    shoppers of `train` up to `sample_users` (seeded)."""
    rng = np.random.default_rng(seed)
    users = np.asarray(users, dtype=np.int64)
    n_users = train.shape[0]
    if n_users > sample_users:
        others = np.setdiff1d(np.arange(n_users), users)
        extra = rng.choice(others, size=min(max(sample_users - len(users), 0), len(others)), replace=False)
        rows = np.sort(np.concatenate([users, extra]))
    else:
        rows = np.arange(n_users)
    scored = np.searchsorted(rows, users)
    folds = [np.sort(f) for f in np.array_split(rng.permutation(scored), max(1, min(n_folds, len(scored))))]
    return Folds(train[rows], test[rows], folds, np.bincount(train.indices, minlength=train.shape[1]))


@dataclass
class Trial:
    """One candidate's scores on the folds it got through (all of them unless `dropped`)."""

    candidate: Candidate
    n_folds: int
    fold_scores: list[float] = field(default_factory=list)
    seconds: float = 0.0
    dropped: str = ""  # "behind" (clearly worse than the best so far) or "budget"

    @property
    def complete(self) -> bool:
        return len(self.fold_scores) == self.n_folds

    @property
    def ndcg(self) -> float:
        return float(np.mean(self.fold_scores)) if self.fold_scores else 0.0

    @property
    def ndcg_std(self) -> float:
        return float(np.std(self.fold_scores)) if self.fold_scores else 0.0

    def as_dict(self) -> dict:
        return {"kind": self.candidate.kind, "params": self.candidate.params, "folds": len(self.fold_scores),
                "ndcg@10": round(self.ndcg, 5), "ndcg@10_std": round(self.ndcg_std, 5),
                "seconds": round(self.seconds, 3)}


def ranked(trials: list[Trial]) -> list[Trial]:
    """Best first: trials through every fold by mean nDCG@10, then the ones stopped early."""
    return sorted(trials, key=lambda t: (not t.complete, -t.ndcg))


def search(starts: list[Candidate], space: list[Candidate], folds: Folds, *, options: FitOptions,
           iterations: int | None, budget_seconds: float | None, clock: Callable[[], float] = time.monotonic,
           drop_margin: float = DROP_MARGIN, progress: ProgressFn | None = None,
           on_trial: Callable[[Trial], None] | None = None, log: Callable[[str], None] | None = None) -> list[Trial]:
    """Race `starts`, then `space` (the seeded random search), over the folds; best first.

    Each candidate is fitted and scored fold by fold; one whose running mean falls `drop_margin`
    below the best finished candidate's mean on the same folds stops there ("behind"). Once
    `budget_seconds` (by `clock`, injectable for tests) are spent no further fit starts, except
    that the first candidate always finishes (a run needs a winner); None: no budget. A kind that
    cannot fit this sample (EASE over its size limit) is skipped, its reason logged once.
    One candidate and nothing to search: nothing to choose, nothing fitted."""
    queue = unique(starts + space)
    if len(queue) == 1 and budget_seconds is None:
        return [Trial(queue[0], n_folds=0)]
    started = clock()
    deadline = None if budget_seconds is None else started + budget_seconds
    n_folds = len(folds.folds)
    trials: list[Trial] = []
    best: Trial | None = None
    skipped: set[str] = set()
    for index, candidate in enumerate(queue):
        if best is not None and deadline is not None and clock() >= deadline:
            break
        reason = model_kinds.kind_class(candidate.kind).skip_reason(folds.train.shape, options)
        if reason:
            if candidate.kind not in skipped and log:
                log(reason)
            skipped.add(candidate.kind)
            continue
        trial, began = Trial(candidate, n_folds=n_folds), time.perf_counter()
        for fold in range(n_folds):
            if fold and best is not None and deadline is not None and clock() >= deadline:
                trial.dropped = "budget"
                break
            trial.fold_scores.append(folds.score(candidate, fold, options=options, iterations=iterations))
            if best is not None and fold < n_folds - 1 and \
                    trial.ndcg < (1.0 - drop_margin) * float(np.mean(best.fold_scores[:fold + 1])):
                trial.dropped = "behind"
                break
        trial.seconds = time.perf_counter() - began
        trials.append(trial)
        if trial.complete and (best is None or trial.ndcg > best.ndcg):
            best = trial
        if on_trial:
            on_trial(trial)
        if progress:
            progress(min(1.0, (clock() - started) / budget_seconds) if budget_seconds
                     else (index + 1) / len(queue))
    return ranked(trials)


def search_starts(configured: list[Candidate], last_best: Candidate | None) -> list[Candidate]:
    """The search's starting points: the last run's best (warm start), then the configured candidates."""
    return unique(([last_best] if last_best is not None else []) + configured)


def unique(candidates: list[Candidate]) -> list[Candidate]:
    """In order, each candidate once (params are dicts: compared by label)."""
    seen: dict[str, Candidate] = {}
    for c in candidates:
        seen.setdefault(c.label(), c)
    return list(seen.values())


def tuning_space(seed: int = 0) -> list[Candidate]:
    """The search space: each kind's own space in a seeded random order, the kinds taking turns
    (one of each, then the next of each, ...), so a short budget still tries every kind."""
    rng = np.random.default_rng(seed)
    queues = []
    for name, kind in model_kinds.KINDS.items():
        space = kind.search_space()
        queues.append([Candidate(name, space[i]) for i in rng.permutation(len(space))])
    return [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]
