"""Fitting candidates and choosing between them. Pure: numpy/scipy/implicit, no ORM.

A candidate is a kind name and its parameters; recsys.ml.model_kinds holds the kinds ("als",
"bm25", "cosine", "ease", "ease_head", "rp3beta", "random"), how each fits, recommends and is saved, and
what a fit costs (`fit_seconds`, estimated from the data's size). This module fits them (`fit`, `refit`),
compares them on user-disjoint folds of a bounded selection sample (`selection_folds`; `race`: paired
comparisons against an incumbent, within a budget of estimated work, `search_work`),
checks a race run on a sample on the whole data (`final_round`; `select` strings the two together, as a
training run selects) and lists the search space (`tuning_space`).
Callers set BLAS to one thread (see `blas_single_thread`).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.ml import evaluation, model_kinds
from recsys.ml.model_kinds import DataSize, FitOptions, Model, ProgressFn

__all__ = ["REFERENCE_ALS", "Candidate", "DataSize", "FitOptions", "Folds", "Model", "ProgressFn", "Selection", "Trial",
           "blas_single_thread", "final_round", "fit", "paired_gain", "race", "ranked", "recorded_spread", "refit",
           "search", "search_starts", "search_work", "select", "selection_folds", "split_eval_users", "tuning_space"]


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

    def fit_seconds(self, size: DataSize, options: FitOptions, iterations: int | None = None) -> float:
        """One fit's estimated seconds on the reference machine (the kind's `fit_seconds`: from sizes, never timed)."""
        return model_kinds.kind_class(self.kind).fit_seconds(size, self.params, options, iterations)

    def score_seconds(self, shoppers: int, size: DataSize) -> float:
        """Scoring `shoppers` against a fit of `size`, estimated as `fit_seconds` (the kind's `score_seconds`)."""
        return model_kinds.kind_class(self.kind).score_seconds(shoppers, size, self.params)


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


Z = 2.0  # a challenger displaces the incumbent when its paired gain exceeds Z standard errors (~2.3% one-sided)
# A fold's fit leaves its scored shoppers out. Once the scored shoppers are at most this fraction of the sample,
# one fold of all of them compares the same shoppers as several folds do, at the cost of one fit instead of several.
MAX_LEFT_OUT = 0.1


@dataclass
class Folds:
    """The selection sample: its shoppers' training rows and held-out items, and its scored
    shoppers in user-disjoint folds (`repeats` partitions of them, one after the other: each unit
    of `folds` is one fit). A fold's shoppers take no part in that fold's fit: they are folded in
    from their rows when scored, as serving folds a shopper in. `sample` says what was sampled;
    `covers_all`: the sample is every shopper of the training split (a one-fold fit of it is then a fit
    of the whole training split but the scored shoppers, fit to be scored on the holdout)."""

    train: sp.csr_matrix
    test: sp.csr_matrix  # same rows as train
    folds: list[np.ndarray]  # row indices of train, disjoint within each repeat
    popularity: np.ndarray
    sample: dict = field(default_factory=dict)
    covers_all: bool = False

    @cached_property
    def size(self) -> DataSize:
        """What one fold's fit works on (the sample; an upper bound: the fold's shoppers are left out)."""
        return DataSize.of(self.train)

    def fit_and_score(self, candidate: Candidate, fold: int, *, options: FitOptions,
                      iterations: int | None) -> tuple[np.ndarray, Model]:
        """Per-shopper nDCG@10 on fold `fold` (in its order) of `candidate` fitted on the sample's other shoppers,
        and that fit."""
        scored = self.folds[fold]
        keep = np.setdiff1d(np.arange(self.train.shape[0]), scored, assume_unique=True)
        model = fit(candidate, self.train[keep], options=options, iterations=iterations)
        recs = model.recommend(self.train, scored, fold_in=True)
        return evaluation.ndcg_per_user(recs, self.test[scored], n_items=self.train.shape[1]), model

    def score(self, candidate: Candidate, fold: int, *, options: FitOptions, iterations: int | None) -> float:
        """nDCG@10 on fold `fold` (the mean of `fit_and_score`'s per-shopper scores)."""
        return float(np.mean(self.fit_and_score(candidate, fold, options=options, iterations=iterations)[0]))


def split_eval_users(eval_users: np.ndarray, *, selection_users: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(selection shoppers, holdout shoppers): disjoint, seeded; the selection gets at most half.
    The holdout scores only the winner, so its figure is not inflated by having picked it."""
    order = np.random.default_rng(seed).permutation(np.asarray(eval_users))
    n = max(1, min(selection_users, len(order) // 2))
    return np.sort(order[:n]), np.sort(order[n:])


def selection_folds(train: sp.csr_matrix, test: sp.csr_matrix, users: np.ndarray, *, n_folds: int,
                    sample_users: int, max_interactions: int | None = None, repeats: int = 1,
                    seed: int = 0) -> Folds:
    """The selection sample: all of `users` (scored) plus other shoppers of `train` in a seeded
    random order while the sample stays within `sample_users` shoppers and `max_interactions`
    interactions (None: no bound). Its scored shoppers are split into `n_folds` folds (fewer, down to one,
    where fewer folds still leave at most MAX_LEFT_OUT of the sample's shoppers out of each fit), `repeats`
    times over (a fresh seeded partition each time), as far as the sample is small enough for
    each repeat to cost no more than one fit of a full-size sample: small shops get every scored
    shopper scored several times, large ones once. The winner is refit on all data later."""
    rng = np.random.default_rng(seed)
    users = np.asarray(users, dtype=np.int64)
    n_users = train.shape[0]
    cap = max_interactions if max_interactions is not None else train.nnz
    lengths = np.diff(train.indptr)
    if n_users > sample_users or train.nnz > cap:
        others = rng.permutation(np.setdiff1d(np.arange(n_users), users))
        room_users = max(sample_users - len(users), 0)
        room = cap - int(lengths[users].sum())
        # Shoppers in a seeded random order until a bound is reached: the sample's item popularity
        # follows the shop's, head and tail alike (`sample` records how many items it saw).
        take = others[np.cumsum(lengths[others]) <= room][:room_users]
        rows = np.sort(np.concatenate([users, take]))
    else:
        rows = np.arange(n_users)
    sample_train = train[rows]
    scored = np.searchsorted(rows, users)
    k = max(1, min(n_folds, len(scored), math.ceil(len(scored) / max(MAX_LEFT_OUT * len(rows), 1.0))))
    repeats = int(max(1, min(repeats, cap // max(sample_train.nnz, 1)))) if k > 1 else 1  # one fold: nothing to vary
    folds = [np.sort(f) for _ in range(repeats) for f in np.array_split(rng.permutation(scored), k)]
    popularity = np.bincount(train.indices, minlength=train.shape[1])
    sampled_pop = np.bincount(sample_train.indices, minlength=train.shape[1])
    head = np.argsort(-popularity, kind="stable")[: max(1, train.shape[1] // 10)]
    sample = {"shoppers": int(len(rows)), "of_shoppers": int(n_users), "interactions": int(sample_train.nnz),
              "of_interactions": int(train.nnz), "items_seen": int(np.count_nonzero(sampled_pop)),
              "of_items": int(np.count_nonzero(popularity)),
              "top_decile_items_seen": round(float(np.mean(sampled_pop[head] > 0)), 4),
              "scored_shoppers": int(len(scored)), "folds": k, "repeats": repeats,
              "bounds": {"shoppers": int(sample_users), "interactions": max_interactions}}
    return Folds(sample_train, test[rows], folds, popularity, sample, covers_all=len(rows) == n_users)


@dataclass
class Trial:
    """One candidate's scores on the folds it got through (all of them unless stopped "behind"),
    kept per shopper so that two candidates compare paired, on the same shoppers of the same folds."""

    candidate: Candidate
    n_folds: int
    fold_scores: list[float] = field(default_factory=list)
    seconds: float = 0.0
    work: float = 0.0  # its fits' (and scoring's) estimated reference seconds (what the budget counts)
    dropped: str = ""  # "behind": its paired gain over the incumbent was clearly below zero
    user_scores: list[np.ndarray] = field(default_factory=list, repr=False)
    outcome: str = ""  # "incumbent" (the first starting point), "displaced the incumbent", "within noise", "behind"
    gain: float | None = None  # paired mean nDCG@10 gain over the incumbent it was compared with
    gain_se: float | None = None  # its standard error (over the shoppers of the folds both went through)
    won: bool = False

    @property
    def complete(self) -> bool:
        return len(self.fold_scores) == self.n_folds

    @property
    def ndcg(self) -> float:
        return float(np.mean(self.fold_scores)) if self.fold_scores else 0.0

    @property
    def ndcg_std(self) -> float:
        return float(np.std(self.fold_scores)) if self.fold_scores else 0.0

    @property
    def ndcg_se(self) -> float:
        """The standard error of the mean over the scored shoppers (what one fold's figure has instead of a spread;
        a shopper scored in several repeats counts as often as scored, so this is a lower bound there)."""
        scores = self.per_user()
        return float(np.std(scores, ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else 0.0

    def per_user(self) -> np.ndarray:
        return np.concatenate(self.user_scores) if self.user_scores else np.zeros(0)

    def add(self, scores: np.ndarray) -> None:
        self.user_scores.append(np.asarray(scores, dtype=np.float64))
        self.fold_scores.append(float(np.mean(scores)) if len(scores) else 0.0)

    def as_dict(self) -> dict:
        out = {"kind": self.candidate.kind, "params": self.candidate.params, "folds": len(self.fold_scores),
               "ndcg@10": round(self.ndcg, 5), "ndcg@10_std": round(self.ndcg_std, 5),
               "ndcg@10_se": round(self.ndcg_se, 5),
               "seconds": round(self.seconds, 3), "work_seconds": round(self.work, 3), "outcome": self.outcome,
               "won": self.won}
        if self.gain is not None:
            out["gain"], out["gain_se"] = round(self.gain, 5), round(float(self.gain_se), 5)
        return out


def recorded_spread(trial: dict) -> float:
    """A recorded trial's ± (`Trial.as_dict`): the spread over its folds, or over one fold (no spread) the standard
    error over its scored shoppers."""
    return trial["ndcg@10_std"] if trial.get("folds", 0) > 1 else trial.get("ndcg@10_se", trial["ndcg@10_std"])


def paired_gain(challenger: np.ndarray, incumbent: np.ndarray, shoppers: np.ndarray | None = None
                ) -> tuple[float, float]:
    """(mean, standard error) of the per-shopper differences over the shoppers both were scored on. `shoppers`
    (the shopper of each score): repeated folds score a shopper several times, and those scores move together, so
    each shopper's differences are averaged first and the error counts shoppers, not scores."""
    d = challenger - incumbent[: len(challenger)]
    if shoppers is not None and len(d):
        _, inverse = np.unique(shoppers[: len(d)], return_inverse=True)
        d = np.bincount(inverse, weights=d) / np.bincount(inverse)
    if len(d) < 2:
        return float(d.mean()) if len(d) else 0.0, float("inf")
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def ranked(trials: list[Trial]) -> list[Trial]:
    """The winner first, then trials through every fold by mean nDCG@10, then the ones stopped early."""
    return sorted(trials, key=lambda t: (not t.won, not t.complete, -t.ndcg))


@dataclass
class Selection:
    """A search's trials (winner first), why it stopped and what it spent; `model`: the winner fitted on every
    training row but the scored shoppers, when the race made that fit (one fold over the whole split, the scored
    shoppers at most MAX_LEFT_OUT of it) and the kind is item-item (scored by folding rows in, so the missing rows
    change the fit by no more than a fold's would), else None (the caller fits it)."""

    trials: list[Trial]
    stopped: str  # "space" (every candidate tried), "budget" (fold-fits or work spent), "safety" (wall clock), "none"
    fits: int = 0
    seconds: float = 0.0
    work: float = 0.0  # the estimated reference seconds of every fit the race made (starting points included)
    model: Model | None = field(default=None, repr=False)


def race(starts: list[Candidate], space: list[Candidate], folds: Folds, *, options: FitOptions,
         iterations: int | None, budget_fits: int | None, budget_work: float | None = None,
         max_seconds: float | None = None, clock: Callable[[], float] = time.monotonic, z: float = Z,
         progress: ProgressFn | None = None, on_trial: Callable[[Trial], None] | None = None,
         log: Callable[[str], None] | None = None) -> Selection:
    """Race `starts`, then `space` (the seeded random search), over the folds.

    The first starting point (the last run's winner, else the first configured) is the incumbent.
    Every later candidate is scored fold by fold on the same shoppers and compared paired: it
    displaces the incumbent only when its mean per-shopper gain exceeds `z` standard errors, and it
    stops early ("behind") once its gain is `z` standard errors below zero (a shopper scored in several
    repeats counts once). So a challenger that wins by less than the folds' noise changes nothing; each
    challenger is its own one-sided test, though, so a larger budget still raises the chance that one
    displaces the incumbent by luck (a few percent per challenger of equal merit at z = 2).

    The budget is work, not time: the starting points always run; a candidate of `space` starts only if
    its folds fit in what is left of `budget_fits` fold-fits and of `budget_work`, the estimated reference
    seconds of its fits (`Candidate.fit_seconds`, from the sample's size; one that does not fit is passed
    over for a cheaper one). None: no such bound. So the same data and seed give the same trials on any
    machine. A started candidate always finishes (or stops behind); none is cut by the budget.
    `max_seconds` is a safety stop only (by `clock`): past it no further candidate starts, and `stopped`
    says "safety". A kind that cannot fit this sample (EASE over its size limit) is skipped, its reason
    logged once. One candidate and nothing to search: nothing to choose, nothing fitted."""
    queue = unique(starts + space)
    n_starts = len(unique(starts))
    if len(queue) == 1 and budget_fits is None and budget_work is None:
        only = Trial(queue[0], n_folds=0, outcome="incumbent", won=True)
        return Selection([only], "none")
    started = clock()
    n_folds = len(folds.folds)
    scored_shoppers = np.concatenate(folds.folds) if folds.folds else np.zeros(0, dtype=np.int64)
    # That fold's fit is the whole split's but the scored shoppers: the model itself, where they are few.
    keeps_fit = n_folds == 1 and folds.covers_all and len(folds.folds[0]) <= MAX_LEFT_OUT * folds.train.shape[0]
    trials: list[Trial] = []
    incumbent: Trial | None = None
    incumbent_model: Model | None = None
    skipped: set[str] = set()
    spent, searched, stopped = 0, 0, "space"  # fold-fits in all, and those of `space` (the budget's)
    work, searched_work, passed_over = 0.0, 0.0, False

    def cost(candidate: Candidate) -> float:  # a fit per fold, and scoring the fold's shoppers
        fit_once = candidate.fit_seconds(folds.size, options, iterations)
        return sum(fit_once + candidate.score_seconds(len(fold), folds.size) for fold in folds.folds)

    planned = sum(cost(c) for c in queue[:n_starts]) + (budget_work or 0.0)
    for index, candidate in enumerate(queue):
        searching = index >= n_starts
        if incumbent is not None and max_seconds is not None and clock() - started >= max_seconds:
            stopped = "safety"
            break
        if searching and budget_fits is not None and searched + n_folds > budget_fits:
            stopped = "budget"
            break
        kind = model_kinds.kind_class(candidate.kind)
        reason = kind.skip_reason(folds.train.shape, options)
        if reason:
            if candidate.kind not in skipped and log:
                log(reason)
            skipped.add(candidate.kind)
            continue
        expected = cost(candidate)
        if searching and budget_work is not None and searched_work + expected > budget_work:
            passed_over = True
            continue
        trial, began = Trial(candidate, n_folds=n_folds), time.perf_counter()
        keep = keeps_fit and kind.is_item_item  # its rows fold in; a factor model's user rows would not line up
        model = None
        for fold in range(n_folds):
            scores, model = folds.fit_and_score(candidate, fold, options=options, iterations=iterations)
            trial.add(scores)
            model = model if keep else None
            spent, searched = spent + 1, searched + searching
            if incumbent is not None:
                trial.gain, trial.gain_se = paired_gain(trial.per_user(), incumbent.per_user(), scored_shoppers)
                if fold < n_folds - 1 and trial.gain + z * trial.gain_se < 0:
                    trial.dropped = trial.outcome = "behind"
                    break
        done = expected * len(trial.fold_scores) / n_folds  # a trial stopped behind spent only its folds' share
        work, searched_work = work + done, searched_work + done * searching
        trial.seconds, trial.work = time.perf_counter() - began, done
        if incumbent is None:
            trial.outcome, incumbent, incumbent_model = "incumbent", trial, model
        elif not trial.dropped:
            if trial.gain > z * trial.gain_se:
                trial.outcome, incumbent, incumbent_model = "displaced the incumbent", trial, model
            else:
                trial.outcome = "behind" if trial.gain + z * trial.gain_se < 0 else "within noise"
        del model  # a challenger's fit is freed before the next one starts
        trials.append(trial)
        if on_trial:
            on_trial(trial)
        if progress:
            if budget_work is None and budget_fits is not None:
                progress(min(1.0, spent / max(budget_fits + n_starts * n_folds, 1)))  # an upper bound
            else:
                progress(min(1.0, work / planned) if planned else (index + 1) / len(queue))
    if stopped == "space" and passed_over:
        stopped = "budget"
    if incumbent is not None:
        incumbent.won = True
    return Selection(ranked(trials), stopped, spent, clock() - started, work, incumbent_model)


def final_round(selection: Selection, whole: Folds, *, options: FitOptions, iterations: int | None, z: float = Z,
                max_seconds: float | None = None, on_trial: Callable[[Trial], None] | None = None,
                log: Callable[[str], None] | None = None) -> tuple[Selection, list[Trial]]:
    """The race's verdict checked on the whole data, for a race run on a sample of it: the best candidate of each
    kind (the race's winner first, the incumbent) races again on `whole` (one fold: a fit of all the training data
    but the scored shoppers), paired as in `race` (`max_seconds`: its safety stop; the incumbent always runs). A
    sample of a tenth of a shop ranks the kinds differently from the shop itself (item-item kinds lose the most:
    bench/bench_sample_fidelity.py), and the winner is served from the whole data. Returns the selection with the
    final winner marked (`fits` stays the race's fold-fits; `seconds` adds the final round's) and the final
    round's trials, ranked; its `model` is the final round's winner's fit (the whole split but the scored shoppers)
    for an item-item kind (see `Selection`)."""
    best: dict[str, Trial] = {}
    for trial in selection.trials:  # ranked: the winner, the complete trials by figure, then those stopped behind
        if trial.candidate.kind not in best:
            best[trial.candidate.kind] = trial
    if len(best) < 2:
        return selection, []
    final = race([t.candidate for t in best.values()], [], whole, options=options, iterations=iterations,
                 budget_fits=None, max_seconds=max_seconds, z=z, on_trial=on_trial, log=log)
    if not final.trials:
        return selection, []
    chosen = best[final.trials[0].candidate.kind]
    if not chosen.won:
        chosen.outcome = "won the final round"
    for trial in selection.trials:
        trial.won = trial is chosen
    return Selection(ranked(selection.trials), selection.stopped, selection.fits, selection.seconds + final.seconds,
                     selection.work + final.work, final.model), final.trials


def select(starts: list[Candidate], space: list[Candidate], train: sp.csr_matrix, test: sp.csr_matrix,
           users: np.ndarray, *, n_folds: int, sample_users: int, max_interactions: int | None, repeats: int,
           options: FitOptions, iterations: int | None, budget_fits: int | None, budget_work: float | None = None,
           max_seconds: float | None = None,
           z: float = Z, seed: int = 0, on_sample: Callable[[dict], None] | None = None,
           on_final: Callable[[Trial], None] | None = None, log: Callable[[str], None] | None = None,
           **race_kwargs) -> tuple[Folds, Selection, list[Trial]]:
    """The selection of a training run: `race` on the bounded sample (`selection_folds`), then, when that sample
    is smaller than `train` and the safety stop did not fire, `final_round` on the whole of it (one fold: all of
    `users`, within what is left of `max_seconds`). Returns the sample's folds, the selection (winner first) and
    the final round's trials."""
    folds = selection_folds(train, test, users, n_folds=n_folds, sample_users=sample_users,
                            max_interactions=max_interactions, repeats=repeats, seed=seed)
    if on_sample:
        on_sample(folds.sample)
    result = race(starts, space, folds, options=options, iterations=iterations, budget_fits=budget_fits,
                  budget_work=budget_work, max_seconds=max_seconds, z=z, log=log, **race_kwargs)
    sample = folds.sample
    if result.stopped == "safety" or (sample["interactions"] == sample["of_interactions"]
                                      and sample["shoppers"] == sample["of_shoppers"]):
        return folds, result, []
    # All rows, no copy: the scored shoppers are the one fold (each fit leaves them out).
    whole = Folds(train, test, [np.sort(np.asarray(users, dtype=np.int64))], folds.popularity, sample, covers_all=True)
    left = None if max_seconds is None else max(max_seconds - result.seconds, 0.0)
    result, final = final_round(result, whole, options=options, iterations=iterations, z=z, max_seconds=left,
                                on_trial=on_final, log=log)
    return folds, result, final


REFERENCE_ALS = Candidate("als", {"factors": 100, "iterations": 15})  # implicit's defaults: the unit of the budget


def search_work(train: sp.csr_matrix, *, als_fits: float, floor_seconds: float, options: FitOptions) -> float:
    """The search's work budget in estimated reference seconds: `als_fits` times one fit of implicit's default
    ALS on `train`, and at least `floor_seconds` (small shops, where a fit costs next to nothing). From the
    data's size alone, so the same data gives the same budget on any machine."""
    return max(als_fits * REFERENCE_ALS.fit_seconds(DataSize.of(train), options), floor_seconds)


def search(starts: list[Candidate], space: list[Candidate], folds: Folds, *, options: FitOptions,
           iterations: int | None, budget_fits: int | None = None, **kwargs) -> list[Trial]:
    """`race`'s trials alone, the winner first."""
    return race(starts, space, folds, options=options, iterations=iterations, budget_fits=budget_fits,
                **kwargs).trials


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
