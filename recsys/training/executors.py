"""Where a queued run executes: one dispatch for training and tuning runs alike.

- "celery": the task is sent by name (`recsys.tasks.train_model` / `recsys.tasks.tune_model`) and
  routed by CELERY_TASK_ROUTES to the `training` queue. Sending by name keeps this module (and the
  services above it) free of any import of the task modules, which import the services themselves.
  A broker that is down or refuses the message (Redis unreachable) does not fail the run: it runs in a
  thread of the web process instead, as with "thread".
- "thread": a daemon thread in this process runs `target`, then closes its DB connection.
- "inline": nothing here; the caller runs the run itself (`manage.py train`, the beat task, tests).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from recsys.ops.redis_state import circuit
from recsys.training.models import TrainingRun

log = logging.getLogger(__name__)
Status = TrainingRun.Status

TRAIN_TASK = "recsys.tasks.train_model"  # args: [run_id]
TUNE_TASK = "recsys.tasks.tune_model"  # args: [run_id, budget_fits]
EXECUTORS = ("celery", "thread", "inline")


def run_dispatch(*, run_id: int, executor: str, task: str, args: Sequence, target: Callable[[], object]) -> None:
    """Hand queued run `run_id` to `executor`: Celery task `task` with `args`, or `target()` in a thread."""
    if executor == "celery":
        if not send(run_id=run_id, task=task, args=args):
            # Redis (the broker) is down: the run happens anyway, in a thread of this process.
            log.warning("training run %s: broker unreachable, running it in this process (thread executor)", run_id)
            start_thread(run_id=run_id, target=target)
    elif executor == "thread":
        start_thread(run_id=run_id, target=target)
    elif executor != "inline":  # inline: the caller runs it itself
        raise ValueError(f"unknown TRAINING_EXECUTOR {executor!r}: use celery or thread")


def send(*, run_id: int, task: str, args: Sequence) -> bool:
    """Queue the Celery task by name; False (nothing queued) when the broker is down or refuses it."""
    if settings.REDIS_URL and not circuit.available():
        return False  # Redis known down in this process: don't pay the broker's connection timeout
    try:
        celery_app.send_task(task, args=list(args), retry=False)
    except Exception as exc:  # noqa: BLE001 - broker down: the caller runs it in a thread instead
        log.warning("could not queue training run %s on the broker: %s: %s", run_id, type(exc).__name__, exc)
        if settings.REDIS_URL:
            circuit.failed(exc)
        return False
    return True


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
