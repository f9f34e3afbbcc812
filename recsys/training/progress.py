"""The bookkeeping of one executing run: its stages and progress bar, timings, peak memory, log
lines and the test hooks (TRAINING_STAGE_DELAY_SECONDS, TRAINING_FAIL_AT_STAGE)."""
from __future__ import annotations

import ctypes
import logging
import resource
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from recsys.training.lease import Heartbeat, LeaseLost
from recsys.training.models import TrainingRun

log = logging.getLogger(__name__)
Status = TrainingRun.Status

# Stage name -> share of the progress bar (percent). Roughly their share of the run time.
STAGES = {"extract": 8, "split": 2, "select": 20, "fit": 40, "evaluate": 5, "refit": 10, "save": 13, "activate": 2}


class InjectedFailure(RuntimeError):
    """Raised by the TRAINING_FAIL_AT_STAGE test hook."""


@dataclass
class Progress:
    stage: str = "starting"
    fraction: float = 0.0  # of the current stage

    @property
    def percent(self) -> float:
        done = 0.0
        for name, share in STAGES.items():
            if name == self.stage:
                return min(100.0, done + share * min(self.fraction, 1.0))
            done += share
        return done if self.stage == "done" else 0.0


def release_freed_memory() -> None:
    """Hand memory freed by the C++ kernels back to the OS (glibc's malloc_trim). The selection's
    many fits free their buffers in implicit's per-thread malloc arenas, which glibc keeps mapped;
    without this the later stages (save) peak on top of them. No-op without glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def process_peak_rss_bytes() -> int:
    """This process's own peak RSS (Linux VmHWM). Not getrusage's ru_maxrss: Linux carries the
    spawning process's peak across fork/vfork + exec into it, so a worker started by a big process
    (a benchmark that just loaded its data, a fat supervisor) would report that process's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # no /proc: best effort (kB on Linux)


class RunTracker:
    """Stage timings, log lines, the hooks and the lease of one executing run."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.progress = Progress()
        self.timings: dict[str, float] = {}
        self.peak_rss_mb: dict[str, int] = {}  # process peak RSS at the end of each stage
        self.lines: list[str] = []
        self.heartbeat: Heartbeat | None = None
        self._stage_started = time.perf_counter()

    def stage(self, name: str) -> None:
        self._close_stage()
        if self.heartbeat is not None and self.heartbeat.lost:
            raise LeaseLost("the run was marked failed (worker lost) while this worker still ran it")
        self.progress.stage, self.progress.fraction = name, 0.0
        TrainingRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            stage=name, progress=round(self.progress.percent, 1), log=self.log_text())
        if settings.TRAINING_STAGE_DELAY_SECONDS:
            time.sleep(settings.TRAINING_STAGE_DELAY_SECONDS)
        if settings.TRAINING_FAIL_AT_STAGE == name:
            raise InjectedFailure(f"injected failure at stage {name} (TRAINING_FAIL_AT_STAGE)")

    def _close_stage(self) -> None:
        now = time.perf_counter()
        if self.progress.stage in STAGES:
            self.timings[self.progress.stage] = round(now - self._stage_started, 3)
            self.peak_rss_mb[self.progress.stage] = round(process_peak_rss_bytes() / 2**20)
        self._stage_started = now

    def note(self, message: str) -> None:
        line = f"{timezone.now():%H:%M:%S} [{self.progress.stage}] {message}"
        log.info("training run %s: %s", self.run_id, message)
        self.lines.append(line)

    def set_fraction(self, fraction: float) -> None:
        self.progress.fraction = fraction

    def log_text(self) -> str:
        return "\n".join(self.lines)

    def finish_timings(self) -> dict:
        self._close_stage()
        return {**self.timings, "total": round(sum(self.timings.values()), 3)}
