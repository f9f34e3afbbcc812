"""One training at a time: the DB lock row, the heartbeat lease, and worker-lost detection.

The lock is `TrainingRun.lock` (True on the one queued/running run; a unique constraint refuses a
second). It works the same on SQLite and PostgreSQL, with or without Redis. The running worker
renews its lease by writing `heartbeat_at` every TRAINING_HEARTBEAT_SECONDS from a side thread
(implicit releases the GIL while fitting). A run whose heartbeat is older than
TRAINING_HEARTBEAT_TIMEOUT is failed as "worker lost" and its lock released, by whoever looks
first: the next trigger, the beat task `recsys.tasks.reap_lost_training_runs`, or the admin.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from recsys.training.models import TrainingRun

log = logging.getLogger(__name__)
Status = TrainingRun.Status
ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)


def training_run_create(*, triggered_by: str, executor: str = "") -> tuple[TrainingRun, bool]:
    """Queue a run holding the lock, or return the run that already holds it (created=False)."""
    training_runs_reap_lost()
    for _ in range(3):
        try:
            with transaction.atomic():
                run = TrainingRun.objects.create(
                    status=Status.QUEUED, lock=True, triggered_by=triggered_by[:200], executor=executor,
                    stage="queued", heartbeat_at=timezone.now(),
                )
            return run, True
        except IntegrityError:
            holder = TrainingRun.objects.filter(lock=True).first()
            if holder is not None:
                return holder, False
    raise RuntimeError("could not take or find the training lock")


def training_run_claim(*, run_id: int) -> bool:
    """queued -> running for this process. False when the run is gone, finished or taken
    (a redelivered task, or a run reaped while waiting): the task is then a no-op."""
    now = timezone.now()
    return bool(
        TrainingRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
            status=Status.RUNNING, started_at=now, heartbeat_at=now, stage="starting",
            worker_host=socket.gethostname()[:255], worker_pid=os.getpid(),
        )
    )


def training_run_release(*, run_id: int, status: str, error: str = "", **fields) -> bool:
    """Finish a running run and free the lock. False if it was no longer running (reaped)."""
    return bool(
        TrainingRun.objects.filter(pk=run_id, status=Status.RUNNING).update(
            status=status, error=error, lock=None, finished_at=timezone.now(), **fields
        )
    )


def training_runs_reap_lost() -> list[int]:
    """Fail runs whose worker stopped beating (or that no worker picked up) and free the lock."""
    now = timezone.now()
    reaped = []
    lost = TrainingRun.objects.filter(
        status=Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=settings.TRAINING_HEARTBEAT_TIMEOUT)
    ).values_list("pk", "worker_host", "worker_pid", "heartbeat_at", "stage")
    for pk, host, pid, beat, stage in lost:
        error = (f"worker lost: no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC from {host} pid {pid} "
                 f"(stage {stage}); timeout {settings.TRAINING_HEARTBEAT_TIMEOUT:g}s")
        if TrainingRun.objects.filter(pk=pk, status=Status.RUNNING, heartbeat_at=beat).update(
            status=Status.FAILED, error=error, lock=None, finished_at=now
        ):
            log.warning("training run %s: %s", pk, error)
            reaped.append(pk)
    stale = TrainingRun.objects.filter(
        status=Status.QUEUED, created_at__lt=now - timedelta(seconds=settings.TRAINING_QUEUE_TIMEOUT)
    ).values_list("pk", flat=True)
    for pk in stale:
        if TrainingRun.objects.filter(pk=pk, status=Status.QUEUED).update(
            status=Status.FAILED, lock=None, finished_at=now,
            error=f"no worker picked the run up within {settings.TRAINING_QUEUE_TIMEOUT:g}s "
                  "(is a worker consuming the 'training' queue?)",
        ):
            reaped.append(pk)
    return reaped


class LeaseLost(Exception):
    """The run was reaped while this process still worked on it: stop, never activate."""


class Heartbeat:
    """Renews the lease and publishes progress from a daemon thread with its own connection."""

    def __init__(self, run_id: int, progress, interval: float | None = None):
        self.run_id = run_id
        self.progress = progress  # object with .stage and .percent
        self.interval = interval or settings.TRAINING_HEARTBEAT_SECONDS
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"training-heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def beat(self) -> None:
        updated = TrainingRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            heartbeat_at=timezone.now(), stage=self.progress.stage, progress=round(self.progress.percent, 1)
        )
        if not updated:
            self.lost = True

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # noqa: BLE001 - a missed beat is survivable; the next one retries
                    log.exception("training heartbeat failed")
                    close_old_connections()
        finally:
            connection.close()
