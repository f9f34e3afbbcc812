"""Per-process values rebuilt only when their stamp moves: the one mechanism behind serving's caches of
what merchandisers and the catalog change (the active rules, the catalog's unavailable items).

A `Stamp` is a version number: its source of truth is a database row that every write bumps in its own
transaction; with Redis it is also published under a cache key after the write commits. A `StampedValue`
looks at its stamp at most every `interval()` seconds (0.5 s by default, so a change is visible in every
process within a second) — with Redis, one GET; without Redis, one primary-key read — and reloads only
when the number moved. While Redis is down (its circuit open) the row is read instead, at most once a
second; when Redis is back, the row's number is published again.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from recsys.ops.redis_state import circuit

T = TypeVar("T")


class Stamp:
    def __init__(self, key: str, db_version: Callable[[], int]):
        self.key = key
        self.db_version = db_version  # the row's number (the source of truth)
        self._redis_generation = circuit.generation

    def read(self) -> tuple[int, bool]:
        """(the current number, whether it came from the database because Redis is down)."""
        if not settings.REDIS_URL:
            return self.db_version(), False
        stamp = cache.get(self.key)  # a miss while Redis is down (recsys.ops.cache)
        if circuit.down:
            return self.db_version(), True
        if circuit.generation != self._redis_generation:
            # Redis is back: writes made meanwhile moved only the database's number; publish it again.
            self._redis_generation = circuit.generation
            stamp = None
        if stamp is not None:
            return stamp, False
        stamp = self.db_version()
        cache.set(self.key, stamp, timeout=None)
        return stamp, False

    def publish(self, version: int) -> None:
        """After a write commits: tell every process (Redis)."""
        if settings.REDIS_URL:
            # Re-read after commit so a slower, older publish can't overwrite a newer number for long.
            cache.set(self.key, max(version, self.db_version()), timeout=None)


class StampedValue(Generic[T]):
    def __init__(self, stamp: Stamp, load: Callable[[], T], interval: Callable[[], float], empty: T):
        self.stamp = stamp
        self._load = load
        self._interval = interval
        self._lock = threading.Lock()
        self._version: int | None = None
        self._checked_at = float("-inf")
        self._every = 0.0
        self.value: T = empty

    def get(self) -> T:
        if time.monotonic() - self._checked_at < self._every:
            return self.value
        with self._lock:
            if time.monotonic() - self._checked_at >= self._every:
                version, from_db_in_outage = self.stamp.read()
                if version != self._version:
                    self.value = self._load()
                    self._version = version
                self._every = max(1.0, self._interval()) if from_db_in_outage else self._interval()
                self._checked_at = time.monotonic()
        return self.value

    @property
    def checked_at(self) -> float:
        """When (time.monotonic) the stamp was last looked at in this process."""
        return self._checked_at

    def invalidate(self) -> None:
        """Forget the value in this process; the next `get` reloads it."""
        with self._lock:
            self._version = None
            self._checked_at = float("-inf")

    def changed(self, version: int) -> None:
        """A write committed: publish its number and reload here at once."""
        self.stamp.publish(version)
        self.invalidate()

    def bump(self, model, **fields) -> int:
        """Move the stamp row (`model`, primary key 1, a `version` column; `fields` set beside it) in the current
        transaction; this thread reloads at once (even inside an outer transaction), every process after commit."""
        if not model.objects.filter(pk=1).update(version=F("version") + 1, **fields):
            model.objects.get_or_create(pk=1, defaults={"version": 1, **fields})
        version = model.objects.values_list("version", flat=True).get(pk=1)
        self.invalidate()
        transaction.on_commit(lambda: self.changed(version))
        return version
