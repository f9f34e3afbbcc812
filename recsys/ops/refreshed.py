"""A per-process value too dear to compute in a request: refreshed in the background, served stale meanwhile.

The popular rankings are one grouped query over the events window (~0.7 s on a shop of a million events). Computed
in the request that found them stale, they stalled every worker at once (each process had loaded them at the same
moment), once per freshness period: requests of 2.2 s in the serving bench's 60 s runs. Here only the
first computation of a process is made in a request (there is nothing to serve before it); afterwards, a request
that finds the value older than `ttl()` starts one refresh thread and returns the value it has. A refresh that
fails (the database down) keeps the old value and is tried again by a request `retry_seconds` later. Keyed caches
use recsys.ops.lru.TimedLRU; values that change with a write, recsys.ops.stamps.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connections

log = logging.getLogger(__name__)
T = TypeVar("T")


class Refreshed(Generic[T]):
    def __init__(self, name: str, compute: Callable[[], T], ttl: Callable[[], float], retry_seconds: float = 5.0):
        self.name = name
        self._compute = compute
        self._ttl = ttl  # read at each lookup: settings may change at run time (tests)
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._value: tuple[float, T] | None = None  # (monotonic time it was computed, value)
        self._refreshing: threading.Thread | None = None
        self._tried_at = 0.0
        self._generation = 0  # bumped by clear(): a refresh begun before it does not store its value

    def get(self) -> T:
        held = self._value
        if held is None:
            with self._lock:
                if self._value is None:
                    self._value = (time.monotonic(), self._compute())
                return self._value[1]
        now = time.monotonic()
        if now - held[0] >= self._ttl() and now - self._tried_at >= self._retry_seconds:
            self._start_refresh(now)
        return held[1]

    def _start_refresh(self, now: float) -> None:
        with self._lock:
            if self._refreshing is not None or now - self._tried_at < self._retry_seconds:
                return
            self._tried_at = now
            self._refreshing = threading.Thread(target=self._refresh, args=(self._generation,),
                                                name=f"curio-refresh-{self.name}", daemon=True)
            self._refreshing.start()

    def _refresh(self, generation: int) -> None:
        try:
            value = self._compute()
            with self._lock:
                if generation == self._generation:
                    self._value = (time.monotonic(), value)
        except Exception:  # noqa: BLE001 - a failed refresh keeps serving the value there is
            log.warning("refreshing %s failed; serving the previous value", self.name, exc_info=True)
        finally:
            connections.close_all()  # this thread's own database connections
            with self._lock:
                self._refreshing = None

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a refresh under way (tests, shutdown)."""
        thread = self._refreshing
        if thread is not None:
            thread.join(timeout)

    def clear(self) -> None:
        """Forget the value: the next `get` computes it in the caller (a refresh under way is left to finish)."""
        with self._lock:
            self._value = None
            self._tried_at = 0.0
            self._generation += 1
