"""The stages of one run, in order, as small functions; `train` and `tune` string them together.

train: extract -> split -> select -> fit (or the selection's fit of the winner) -> evaluate (+ gate, version
       record) -> refit -> save -> activate
tune:  extract -> split -> select over the tuning space until the budget is spent

The split's evaluation shoppers are divided once: the selection's (user-disjoint folds, the
search) and the holdout's, which scores only the winner (the figure the gate, the version and
the model card show), so picking the best of many trials does not inflate it.

Each stage starts with `tracker.stage(name)` (progress bar, timings, the test hooks, the lease
check). The stages know nothing of model kinds: the fitted model (recsys.ml.model_kinds) says
whether the refit warm-starts and writes its own artifact arrays.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recsys.ml import artifacts, evaluation, fitting, matrix
from recsys.training import selectors, stored_versions
from recsys.training.config import fit_options, weight_config
from recsys.training.content import content_write
from recsys.training.lease import LeaseLost, training_run_release
from recsys.training.models import ModelVersion, TrainingRun
from recsys.training.progress import RunTracker, release_freed_memory
from recsys.training.selectors import downweight_promoted
from recsys.training.versions import model_version_activate, model_versions_prune

log = logging.getLogger(__name__)
Status = TrainingRun.Status


class TrainingError(Exception):
    """A run cannot go on (no data, bad settings); the message is shown to the operator."""


# --- the whole run ----------------------------------------------------------------------------

def train(tracker: RunTracker) -> None:
    """One training run to its end: rejected by the gate (recorded) or saved and activated."""
    run_id = tracker.run_id
    config, options = weight_config(), fit_options()
    candidates = configured_candidates()
    record_params(run_id, candidates, config, options)

    with fitting.blas_single_thread():
        data, split, counts, now = extract_and_split(tracker, config, options)
        selection_users, holdout_users = divide_eval_users(split, counts, options)
        trials, search, model = select(tracker, candidates, split, selection_users, options)
        release_freed_memory()  # the selection's many fits: the later stages must not peak on top of them
        winner = trials[0].candidate
        model = fit(tracker, winner, split, options, selected=model)
        scores = evaluate(tracker, model, split, holdout_users, n_items=data.shape[1], options=options)
        accepted, reason = gate(tracker, scores)
        version = version_record(run_id, winner, scores, trials, search, accepted, reason)
        if not accepted:
            reject(tracker, version, reason, counts)
            return

        warm = model if model.warm_starts else None
        del model  # a kind that does not warm-start: free the split's fit before the refit
        model = refit(tracker, winner, data, options, warm_start=warm)
        del warm, split

        artifact = save(tracker, model, winner, version, data, now)
        counts["peak_rss_mb_after_stage"] = tracker.peak_rss_mb
        counts["model_bytes"] = int(sum(a.nbytes for a in (artifact.user_factors, artifact.item_factors)
                                        if a is not None) + matrix.matrix_bytes(artifact.similarity))
        activate(tracker, version, counts)
    model_versions_prune()


def tune(tracker: RunTracker, budget_fits: int) -> None:
    """The search of every training run with a larger budget of fold-fits (`train --tune FITS`), iterations
    in full; every trial is written to the run as it ends (metrics["tuning"], best first at the end)."""
    run_id, options = tracker.run_id, fit_options()
    with fitting.blas_single_thread():
        _, split, counts, _ = extract_and_split(tracker, weight_config(), options)
        selection_users, _ = divide_eval_users(split, counts, options)
        started, trials = time.monotonic(), []

        def record(trial: fitting.Trial) -> None:
            trials.append(trial.as_dict())
            TrainingRun.objects.filter(pk=run_id).update(metrics={"tuning": trials})

        ranked, search, _ = select(tracker, configured_candidates(), split, selection_users, options,
                                   budget_fits=budget_fits, full_iterations=True, on_trial=record)
    best = [t.as_dict() for t in ranked]
    tracker.note(f"{len(best)} trials in {time.monotonic() - started:.0f}s; best "
                 f"{best[0]['kind']} {best[0]['params']}" if best else "no trial fitted within the budget")
    training_run_release(run_id=run_id, status=Status.SUCCEEDED, timings=tracker.finish_timings(),
                         log=tracker.log_text(), progress=100.0, stage="done", data_counts=counts,
                         metrics={"tuning": best, "best": best[0] if best else None, "search": search})


# --- before the stages --------------------------------------------------------------------------

def configured_candidates() -> list[fitting.Candidate]:
    candidates = [fitting.Candidate.from_setting(c) for c in settings.TRAINING_CANDIDATES]
    if not candidates:
        raise TrainingError("TRAINING_CANDIDATES is empty")
    return candidates


def record_params(run_id: int, candidates: list[fitting.Candidate], config: matrix.WeightConfig,
                  options: fitting.FitOptions) -> None:
    params = {"candidates": [c.label() for c in candidates], "weights": config.weights,
              "rating_threshold": config.rating_threshold, "half_life_days": config.half_life_days,
              "window_days": config.window_days, "num_threads": options.num_threads, "use_gpu": options.use_gpu,
              "seed": options.random_state, "gate_margin": settings.TRAINING_GATE_MARGIN}
    TrainingRun.objects.filter(pk=run_id).update(params=params)


# --- extract, split (shared by training and tuning) ---------------------------------------------

def extract(tracker: RunTracker, config: matrix.WeightConfig) -> tuple[matrix.Interactions, dict, datetime]:
    """Events -> the weighted shopper x item matrix (curators' promotions count less)."""
    tracker.stage("extract")
    now = timezone.now()
    users, items, weights, n_events = selectors.event_arrays(config=config, now=now)
    data = matrix.build_interactions(users, items, weights, negatives=selectors.negative_interactions())
    data = downweight_promoted(data, config=config, now=now)  # trust: curators' promotions count less
    # Id maps now, beside the events they belong to, not at save time: a shopper merged or erased while the
    # run fits would otherwise shift rows onto other shoppers' ids (the erased row stays "", then is scrubbed).
    data.user_ids, data.item_ids = selectors.shopper_ids(data.user_pks), selectors.item_ids(data.item_pks)
    del users, items, weights
    counts = {"events": n_events, "shoppers": data.shape[0], "items": data.shape[1],
              "interactions": int(data.matrix.nnz), "matrix_bytes": matrix.matrix_bytes(data.matrix)}
    tracker.note(f"{n_events:,} events -> {data.shape[0]:,} shoppers x {data.shape[1]:,} items, "
                 f"{data.matrix.nnz:,} interactions")
    return data, counts, now


def split_holdout(tracker: RunTracker, data: matrix.Interactions, counts: dict,
                  options: fitting.FitOptions) -> matrix.Split:
    """The per-shopper holdout; too few shoppers or items ends the run (TrainingError)."""
    tracker.stage("split")
    split = matrix.holdout_split(data.matrix, fraction=settings.TRAINING_HOLDOUT_FRACTION,
                             max_eval_users=settings.TRAINING_EVAL_USERS, seed=options.random_state)
    counts["eval_shoppers"] = int(len(split.eval_users))
    counts["held_out"] = int(split.test.nnz)
    TrainingRun.objects.filter(pk=tracker.run_id).update(data_counts=counts)
    if len(split.eval_users) < 2 or data.shape[1] < 2:
        raise TrainingError(f"not enough data to train: {len(split.eval_users)} shoppers with 2+ items, "
                            f"{data.shape[1]} items (import events or run `manage.py demo`)")
    return split


def extract_and_split(tracker: RunTracker, config: matrix.WeightConfig, options: fitting.FitOptions):
    data, counts, now = extract(tracker, config)
    return data, split_holdout(tracker, data, counts, options), counts, now


# --- select, fit, evaluate, gate ----------------------------------------------------------------

def divide_eval_users(split: matrix.Split, counts: dict, options: fitting.FitOptions) -> tuple[np.ndarray, np.ndarray]:
    """(selection shoppers, holdout shoppers) of the split's evaluation shoppers, disjoint."""
    selection_users, holdout_users = fitting.split_eval_users(
        split.eval_users, selection_users=settings.TRAINING_SELECTION_EVAL_USERS, seed=options.random_state)
    counts["selection_shoppers"], counts["holdout_shoppers"] = int(len(selection_users)), int(len(holdout_users))
    return selection_users, holdout_users


def select(tracker: RunTracker, candidates: list[fitting.Candidate], split: matrix.Split, users: np.ndarray,
           options: fitting.FitOptions, *, budget_fits: int | None = None, full_iterations: bool = False,
           on_trial=None) -> tuple[list[fitting.Trial], dict, fitting.Model | None]:
    """The search over user-disjoint folds of a bounded sample of the selection shoppers (winner
    first), its summary, and the winner's fit when the selection made one on the whole training split but
    the selection shoppers (else None). Starting points: the last run's winner (the incumbent), then the
    configured candidates; then each kind's space in a seeded random order within the budget of estimated
    work (TRAINING_SEARCH_WORK, _MIN_WORK) and TRAINING_SEARCH_FITS fold-fits. A challenger displaces the
    incumbent only by more than the folds' noise (fitting.race). `budget_fits` (tuning) replaces both and is
    the search's only bound (the task's time limit stays); otherwise TRAINING_SEARCH_SECONDS is the safety
    stop (0: the starting points only)."""
    tracker.stage("select")
    if budget_fits is None:
        budget_fits, safety = settings.TRAINING_SEARCH_FITS, settings.TRAINING_SEARCH_SECONDS
        budget_work = fitting.search_work(split.train, als_fits=settings.TRAINING_SEARCH_WORK,
                                          floor_seconds=settings.TRAINING_SEARCH_MIN_WORK, options=options)
        searching = budget_fits > 0 and safety > 0 and budget_work > 0
    else:  # a tuning run asked for this much work: no wall-clock stop of the search's own
        safety, searching, budget_work = None, budget_fits > 0, None
    last = selectors.last_best_candidate(before_run=tracker.run_id)
    starts = fitting.search_starts(candidates, _candidate(last))
    skipped: list[str] = []

    def note_sample(sample: dict) -> None:
        tracker.note(f"selection sample: {sample['shoppers']:,} of {sample['of_shoppers']:,} shoppers, "
                     f"{sample['interactions']:,} of {sample['of_interactions']:,} interactions, "
                     f"{sample['items_seen']:,} of {sample['of_items']:,} items; {sample['scored_shoppers']:,} scored "
                     f"shoppers in {sample['folds']} folds x {sample['repeats']}")

    def note_skip(reason: str) -> None:
        skipped.append(reason)
        tracker.note(reason)

    def describe(trial: fitting.Trial) -> str:
        paired = f", gain {trial.gain:+.4f} ± {trial.gain_se:.4f}" if trial.gain is not None else ""
        folds = len(trial.fold_scores)
        return (f"{trial.candidate.label()}: ndcg@10 {trial.ndcg:.4f} ± {fitting.recorded_spread(trial.as_dict()):.4f} "
                f"over {folds} fold{'s' if folds > 1 else ' (± its standard error)'} ({trial.seconds:.1f}s){paired}: "
                f"{trial.outcome}")

    def note_trial(trial: fitting.Trial) -> None:
        tracker.note(f"trial {describe(trial)}")
        if on_trial:
            on_trial(trial)

    folds, result, final = fitting.select(
        starts, fitting.tuning_space(options.random_state) if searching else [], split.train, split.test, users,
        n_folds=settings.TRAINING_SELECTION_FOLDS, sample_users=settings.TRAINING_SELECTION_USERS,
        max_interactions=settings.TRAINING_SELECTION_INTERACTIONS, repeats=settings.TRAINING_SELECTION_REPEATS,
        options=options, iterations=None if full_iterations else settings.TRAINING_SELECTION_ITERATIONS,
        budget_fits=budget_fits if searching else None, budget_work=budget_work if searching else None,
        max_seconds=safety if searching else None,
        z=settings.TRAINING_SELECTION_Z, seed=options.random_state, on_sample=note_sample,
        on_final=lambda trial: tracker.note(f"final round on the whole data: {describe(trial)}"),
        progress=tracker.set_fraction, log=note_skip, on_trial=note_trial)
    sample = folds.sample
    trials = result.trials
    summary = {"budget_fits": budget_fits if searching else 0, "fits": result.fits, "stopped": result.stopped,
               "budget_work_seconds": round(budget_work, 3) if searching and budget_work is not None else None,
               "work_seconds": round(result.work, 3), "winner_fit_reused": result.model is not None,
               "safety_seconds": safety, "seconds": round(result.seconds, 3), "trials": len(trials),
               "folds": len(folds.folds), "z": settings.TRAINING_SELECTION_Z, "sample": sample,
               "warm_start": last and {"kind": last["kind"], "params": last["params"]}, "skipped": skipped,
               "final": [t.as_dict() for t in final], "final_fits": len(final)}
    if result.stopped == "safety":
        tracker.note(f"search stopped by the safety limit ({safety:g} s) after {result.fits} fold-fits")
    final_note = f", then {len(final)} full-size fits in the final round" if final else ""
    tracker.note(f"selected {trials[0].candidate.label()} ({len(trials)} trials, {result.fits} fold-fits{final_note} "
                 f"in {summary['seconds']:.1f}s, {result.work:.1f}s of estimated work; stopped: {result.stopped})")
    if result.model is not None:
        tracker.note("the winner's fit from the selection is the model: it was fitted on every training row but "
                     f"the {len(users):,} selection shoppers")
    return trials, summary, result.model


def _candidate(trial: dict | None) -> fitting.Candidate | None:
    """A recorded trial as a candidate (None when its kind is gone)."""
    if not trial:
        return None
    try:
        return fitting.Candidate.from_setting({"kind": trial["kind"], **(trial.get("params") or {})})
    except (ValueError, KeyError, TypeError):
        return None


def fit(tracker: RunTracker, winner: fitting.Candidate, split: matrix.Split, options: fitting.FitOptions,
        selected: fitting.Model | None = None):
    """The winner with its full parameters on the training split; `selected`: the selection's fit of it on the
    split but the selection shoppers (one fold or the final round, an item-item kind), which is used instead."""
    tracker.stage("fit")
    if selected is not None:
        return selected
    return fitting.fit(winner, split.train, options=options, progress=tracker.set_fraction)


@dataclass
class Scores:
    """Holdout metrics of the model and of the two baselines, on the same shoppers."""

    model: dict
    popularity: dict
    random: dict


def evaluate(tracker: RunTracker, model: fitting.Model, split: matrix.Split, eval_users: np.ndarray, *, n_items: int,
             options: fitting.FitOptions) -> Scores:
    """The winner and the baselines on the holdout shoppers (none of them took part in the selection)."""
    tracker.stage("evaluate")
    test = split.test[eval_users]
    popularity = matrix.item_popularity(split.train)

    def metrics(recommended: np.ndarray) -> dict:
        return evaluation.ranking_metrics(recommended, test, n_items=n_items, popularity=popularity)

    return Scores(
        model=metrics(model.recommend(split.train, eval_users)),
        popularity=metrics(evaluation.popular_recommendations(split.train, eval_users)),
        random=metrics(evaluation.random_recommendations(split.train, eval_users, seed=options.random_state)),
    )


def gate(tracker: RunTracker, scores: Scores) -> tuple[bool, str]:
    """The promotion gate: beat random and popularity (and the active version, when configured)."""
    active = selectors.active_model_version()
    accepted, reason = evaluation.promotion_decision(
        scores.model, popularity=scores.popularity, random=scores.random, margin=settings.TRAINING_GATE_MARGIN,
        active=active.metrics if (active and settings.TRAINING_GATE_VS_ACTIVE and active.metrics) else None)
    tracker.note(f"ndcg@10 {scores.model['ndcg@10']:.4f} vs popularity {scores.popularity['ndcg@10']:.4f} "
                 f"vs random {scores.random['ndcg@10']:.4f}: {'accepted' if accepted else 'rejected'} ({reason})")
    return accepted, reason


def version_record(run_id: int, winner: fitting.Candidate, scores: Scores, trials: list[fitting.Trial],
                   search: dict, accepted: bool, reason: str) -> ModelVersion:
    """The version row (accepted or not) and the run's metrics (every trial, best first)."""
    run_metrics = {"model": rounded(scores.model), "popularity": rounded(scores.popularity),
                   "random": rounded(scores.random), "selection": [t.as_dict() for t in trials],
                   "winner": {"kind": winner.kind, "params": winner.params}, "search": search,
                   "gate": {"accepted": accepted, "reason": reason}}
    version = ModelVersion.objects.create(
        run_id=run_id, kind=winner.artifact_kind, params={"kind": winner.kind, **winner.params},
        metrics=rounded(scores.model), baseline_metrics=rounded(scores.popularity),
        rejected_reason="" if accepted else reason,
    )
    TrainingRun.objects.filter(pk=run_id).update(metrics=run_metrics)
    return version


def reject(tracker: RunTracker, version: ModelVersion, reason: str, counts: dict) -> None:
    tracker.note(f"version {version.pk} rejected; the active version is unchanged")
    training_run_release(run_id=tracker.run_id, status=Status.REJECTED,
                         error=f"rejected by the promotion gate: {reason}", timings=tracker.finish_timings(),
                         log=tracker.log_text(), progress=100.0, stage="rejected", data_counts=counts)


# --- refit, save, activate ----------------------------------------------------------------------

def refit(tracker: RunTracker, winner: fitting.Candidate, data: matrix.Interactions, options: fitting.FitOptions,
          *, warm_start: fitting.Model | None):
    """The winner on all data (continuing from `warm_start` when its kind warm-starts)."""
    tracker.stage("refit")
    return fitting.refit(winner, data.matrix, options=options, iterations=settings.TRAINING_REFIT_ITERATIONS,
                         progress=tracker.set_fraction, warm_start=warm_start)


def save(tracker: RunTracker, model: fitting.Model, winner: fitting.Candidate, version: ModelVersion,
         data: matrix.Interactions, now: datetime) -> artifacts.Artifact:
    """The artifact written, shoppers erased meanwhile scrubbed from it, and put into the artifact store."""
    tracker.stage("save")
    artifact = model.to_artifact(
        version=version.pk, user_ids=data.user_ids, item_ids=data.item_ids,
        similar_items=settings.TRAINING_SIMILAR_ITEMS, params={"kind": winner.kind, **winner.params,
                                                               "run": tracker.run_id})
    path = artifacts.save(artifact, stored_versions.staging_dir())
    content_write(path, matrix=data.matrix, item_ids=data.item_ids)  # the content index: new items' lists
    stored_versions.scrub_erased(path, since=now)  # shoppers erased while this run was training
    try:
        stored_versions.version_store(version, path)
        # An erasure that committed during the upload looked only at versions already stored: once more, by hash.
        stored_versions.scrub_erased_stored(version.pk, since=now)
    except stored_versions.STORE_FAILURES as exc:
        stored_versions.version_unstore(version, path)
        raise TrainingError(f"the version could not be stored, so nothing was activated: {exc}") from exc
    tracker.note(f"artifact stored at {version.artifact_path}")
    return artifact


def activate(tracker: RunTracker, version: ModelVersion, counts: dict) -> None:
    """Activate the version and finish the run, unless the run was reaped meanwhile."""
    tracker.stage("activate")
    run_id = tracker.run_id
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().get(pk=run_id)
        if locked.status != Status.RUNNING:
            raise LeaseLost("the run was marked failed (worker lost) before activation; not activating")
        model_version_activate(version_id=version.pk)
        tracker.note(f"version {version.pk} active")
        timings = tracker.finish_timings()
        tracker.progress.stage, tracker.progress.fraction = "done", 1.0
        training_run_release(run_id=run_id, status=Status.SUCCEEDED, timings=timings,
                             log=tracker.log_text(), progress=100.0, stage="done", data_counts=counts)


def rounded(metrics: dict) -> dict:
    return {k: round(float(v), 6) for k, v in metrics.items()}
