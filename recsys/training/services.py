"""Training runs: the public service functions. Each one is a few steps; the work is elsewhere:

- executors.py  hands a queued run to Celery (by task name) or a thread: one dispatch for both
- pipeline.py   the stages of a run: extract, split, select, fit, evaluate, gate, refit, save, activate
- progress.py   the bookkeeping of an executing run (stages, timings, log, test hooks)
- versions.py   activating (also the rollback) and pruning model versions

Entry points:
- `training_run_start(*, triggered_by)`: take the lock, queue a run and dispatch it (Celery task on
  the `training` queue, or a background thread when TRAINING_EXECUTOR="thread").
- `training_run_execute(*, run_id)`: the whole run in this process (the task, thread and
  `manage.py train` all call it). Idempotent: a run that is not queued is left alone.
- `training_tune_start` / `training_tune_execute`: the same for a tuning search (nothing is activated).
- `model_version_activate(*, version_id)`: activate/rollback; the ACTIVE stamp is written after commit.
- `model_versions_prune(*, keep)`: delete old artifacts.
"""
from __future__ import annotations

import logging
import traceback
from functools import partial

from django.conf import settings
from django.db import transaction

from recsys.training import executors, pipeline
from recsys.training.lease import Heartbeat, training_run_claim, training_run_create, training_run_release
from recsys.training.models import TrainingRun
from recsys.training.pipeline import TrainingError
from recsys.training.progress import STAGES, InjectedFailure, Progress, RunTracker, process_peak_rss_bytes
from recsys.training.versions import ActivationError, model_version_activate, model_versions_prune

__all__ = [
    "STAGES", "ActivationError", "InjectedFailure", "Progress", "TrainingError", "execute_in_thread",
    "model_version_activate", "model_versions_prune", "process_peak_rss_bytes", "training_run_execute",
    "training_run_start", "training_tune_execute", "training_tune_start", "tune_in_thread",
]

log = logging.getLogger(__name__)
Status = TrainingRun.Status


# --- training ---------------------------------------------------------------------------------

def training_run_start(*, triggered_by: str, executor: str | None = None) -> tuple[TrainingRun, bool]:
    """Queue a run and hand it to the executor once the transaction commits.
    Returns (run, created); created=False means a run already holds the lock (that one is returned)."""
    executor = executor or settings.TRAINING_EXECUTOR
    run, created = training_run_create(triggered_by=triggered_by, executor=executor)
    if created:
        transaction.on_commit(lambda: executors.run_dispatch(
            run_id=run.pk, executor=executor, task=executors.TRAIN_TASK, args=[run.pk],
            target=partial(training_run_execute, run_id=run.pk)))
    return run, created


def training_run_execute(*, run_id: int) -> TrainingRun | None:
    """Run a queued run to its end in this process. Returns the run, or None if it was not queued."""
    if not training_run_claim(run_id=run_id):
        log.info("training run %s is not queued; nothing to do", run_id)
        return None
    tracker = RunTracker(run_id)
    tracker.note(f"started (pid {TrainingRun.objects.get(pk=run_id).worker_pid})")
    try:
        with Heartbeat(run_id, tracker.progress) as heartbeat:
            tracker.heartbeat = heartbeat
            pipeline.train(tracker)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run
        tracker.note(f"failed: {exc}")
        detail = "".join(traceback.format_exception(exc)[-6:])
        training_run_release(run_id=run_id, status=Status.FAILED, error=f"{type(exc).__name__}: {exc}\n\n{detail}",
                             timings=tracker.finish_timings(), log=tracker.log_text(), stage=tracker.progress.stage)
    return TrainingRun.objects.get(pk=run_id)


def execute_in_thread(run_id: int) -> None:
    """training_run_execute as a thread target (`manage.py train` inline)."""
    executors.run_in_thread(partial(training_run_execute, run_id=run_id))


# --- tuning: a larger search within a budget of fold-fits, every trial recorded, nothing activated -----

def training_tune_start(*, triggered_by: str, budget_fits: int,
                        executor: str | None = None) -> tuple[TrainingRun, bool]:
    """Queue a tuning run (it holds the same one-at-a-time lock as training)."""
    executor = executor or settings.TRAINING_EXECUTOR
    run, created = training_run_create(triggered_by=triggered_by, executor=executor)
    if created:
        run.params = {"mode": "tuning", "budget_fits": budget_fits}
        TrainingRun.objects.filter(pk=run.pk).update(params=run.params)
        transaction.on_commit(lambda: executors.run_dispatch(
            run_id=run.pk, executor=executor, task=executors.TUNE_TASK, args=[run.pk, budget_fits],
            target=partial(training_tune_execute, run_id=run.pk, budget_fits=budget_fits)))
    return run, created


def training_tune_execute(*, run_id: int, budget_fits: int) -> TrainingRun | None:
    """The training search with a longer budget; the next training run warm-starts from its best.
    Nothing is activated."""
    if not training_run_claim(run_id=run_id):
        return None
    tracker = RunTracker(run_id)
    try:
        with Heartbeat(run_id, tracker.progress) as heartbeat:
            tracker.heartbeat = heartbeat
            pipeline.tune(tracker, budget_fits)
    except Exception as exc:  # noqa: BLE001 - recorded on the run
        training_run_release(run_id=run_id, status=Status.FAILED, error=f"{type(exc).__name__}: {exc}",
                             timings=tracker.finish_timings(), log=tracker.log_text())
    return TrainingRun.objects.get(pk=run_id)


def tune_in_thread(run_id: int, budget_fits: int) -> None:
    """training_tune_execute as a thread target (`manage.py train --tune` inline)."""
    executors.run_in_thread(partial(training_tune_execute, run_id=run_id, budget_fits=budget_fits))
