"""A per-process value too dear to compute in a request: refreshed in the background, served stale meanwhile.

The popular rankings are one grouped query over the events window (~0.7 s on a shop of a million events). Computed
in the request that found them stale, they stalled every worker at once (each process had loaded them at the same
moment), once per freshness period: requests of 2.2 s in the serving bench's 60 s runs. Here only the first
computation of a process is made in a request (there is nothing to serve before it; concurrent requests of the
process wait for it); afterwards, a request that finds the value older than `ttl()` starts one refresh thread
and returns the value it has. A refresh that fails (the database down) keeps the old value and is tried again by a
request at least `retry_seconds` after the failure. Keyed caches use recsys.ops.lru.TimedLRU; values that change
with a write, recsys.ops.stamps.
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
        self._failed_at: float | None = None  # when the last refresh failed (None: it did not)
        self._generation = 0  # bumped by clear(): a refresh begun before it does not store its value

    def get(self) -> T:
        held = self._value
        if held is None:
            with self._lock:
                if self._value is None:
                    self._value = (time.monotonic(), self._compute())
                return self._value[1]
        now = time.monotonic()
        if now - held[0] >= self._ttl() and self._refreshing is None and (
                self._failed_at is None or now - self._failed_at >= self._retry_seconds):
            self._start_refresh()
        return held[1]

    def _start_refresh(self) -> None:
        with self._lock:
            if self._refreshing is not None:
                return
            thread = threading.Thread(target=self._refresh, args=(self._generation,),
                                      name=f"curio-refresh-{self.name}", daemon=True)
            self._refreshing = thread
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: serve what there is, try again on a later request
            log.warning("cannot start the refresh of %s; serving the previous value", self.name, exc_info=True)
            with self._lock:
                self._refreshing = None

    def _refresh(self, generation: int) -> None:
        try:
            value = self._compute()
            with self._lock:
                if generation == self._generation:
                    self._value, self._failed_at = (time.monotonic(), value), None
        except Exception:  # noqa: BLE001 - a failed refresh keeps serving the value there is
            log.warning("refreshing %s failed; serving the previous value", self.name, exc_info=True)
            with self._lock:
                self._failed_at = time.monotonic()
        finally:
            with self._lock:
                self._refreshing = None
            connections.close_all()  # this thread's own database connections

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a refresh under way (tests)."""
        thread = self._refreshing
        if thread is not None:
            thread.join(timeout)

    def clear(self) -> None:
        """Forget the value: the next `get` computes it in the caller (a refresh under way finishes, unstored)."""
        with self._lock:
            self._value, self._failed_at = None, None
            self._generation += 1
