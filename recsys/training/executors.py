"""Where a queued run executes: one dispatch for training and tuning runs alike.

- "celery": the task is sent by name (`recsys.tasks.train_model` / `recsys.tasks.tune_model`) and
  routed by CELERY_TASK_ROUTES to the `training` queue. Sending by name keeps this module (and the
  services above it) free of any import of the task modules, which import the services themselves.
  A broker that refuses the message fails the run at once, so it does not hold the lock.
- "thread": a daemon thread in this process runs `target`, then closes its DB connection.
- "inline": nothing here; the caller runs the run itself (`manage.py train`, the beat task, tests).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from django.db import connection
from django.utils import timezone

from config.celery import app as celery_app
from recsys.training.models import TrainingRun

log = logging.getLogger(__name__)
Status = TrainingRun.Status

TRAIN_TASK = "recsys.tasks.train_model"  # args: [run_id]
TUNE_TASK = "recsys.tasks.tune_model"  # args: [run_id, budget_seconds]
EXECUTORS = ("celery", "thread", "inline")


def run_dispatch(*, run_id: int, executor: str, task: str, args: Sequence, target: Callable[[], object]) -> None:
    """Hand queued run `run_id` to `executor`: Celery task `task` with `args`, or `target()` in a thread."""
    if executor == "celery":
        send(run_id=run_id, task=task, args=args)
    elif executor == "thread":
        start_thread(run_id=run_id, target=target)
    elif executor != "inline":  # inline: the caller runs it itself
        raise ValueError(f"unknown TRAINING_EXECUTOR {executor!r}: use celery or thread")


def send(*, run_id: int, task: str, args: Sequence) -> None:
    """Queue the Celery task by name; a broker that is down fails the run now instead of holding the lock."""
    try:
        celery_app.send_task(task, args=list(args), retry=False)
    except Exception as exc:  # noqa: BLE001 - broker down: fail the run now, don't hold the lock
        log.exception("could not queue training run %s", run_id)
        TrainingRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
            status=Status.FAILED, lock=None, finished_at=timezone.now(),
            error=f"could not queue the run on the broker: {type(exc).__name__}: {exc}")


def start_thread(*, run_id: int, target: Callable[[], object]) -> threading.Thread:
    """Run `target()` in a daemon thread (the thread executor)."""
    thread = threading.Thread(target=run_in_thread, args=(target,), name=f"training-{run_id}", daemon=True)
    thread.start()
    return thread


def run_in_thread(target: Callable[[], object]) -> None:
    """`target()`, then close this thread's own DB connection (a thread target)."""
    try:
        target()
    finally:
        connection.close()
