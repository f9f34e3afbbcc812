"""The active rules as serving sees them, reloaded only when the rules stamp changes.

`current_rules()` is called on every list request. It returns a per-process, pre-indexed
`RuleSet` and looks at the rules stamp at most every CURATION_RULES_CHECK_SECONDS (0.5 s by
default, so a change is visible everywhere within a second): with Redis, one GET of a cache key;
without Redis, one primary-key read of the `RulesStamp` row. While Redis is down (its circuit open),
the row is read instead, at most once a second; when Redis is back, the row's stamp is published
again. Rules are loaded from the DB only when the stamp moved. Rules outside their window are
included: the request's `now` decides, so an expiry takes effect without any write.
"""
from __future__ import annotations

import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from recsys.ops.redis_state import circuit

from .rules import RuleSet
from .selectors import rules_for_serving, rules_stamp_version

STAMP_KEY = "curation:rules-stamp"


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: int | None = None
        self.checked_at = float("-inf")
        self.interval = settings.CURATION_RULES_CHECK_SECONDS
        self.redis_generation = circuit.generation
        self.rules = RuleSet()


_state = _State()


def current_rules() -> RuleSet:
    if time.monotonic() - _state.checked_at < _state.interval:
        return _state.rules
    with _state.lock:
        if time.monotonic() - _state.checked_at >= _state.interval:
            _refresh()
    return _state.rules


def _refresh() -> None:
    stamp = _read_stamp()
    if stamp != _state.stamp:
        _state.rules = RuleSet(rules_for_serving(now=timezone.now()))
        _state.stamp = stamp
    _state.checked_at = time.monotonic()


def _read_stamp() -> int:
    _state.interval = settings.CURATION_RULES_CHECK_SECONDS
    if settings.REDIS_URL:
        stamp = cache.get(STAMP_KEY)  # a miss while Redis is down (recsys.ops.cache)
        if circuit.down:
            # Redis down: the stamp comes from the database, read at most once a second by this process.
            _state.interval = max(1.0, settings.CURATION_RULES_CHECK_SECONDS)
            return rules_stamp_version()
        if circuit.generation != _state.redis_generation:
            # Redis is back: rules written meanwhile moved only the database's stamp; publish it again.
            _state.redis_generation = circuit.generation
            stamp = None
        if stamp is not None:
            return stamp
        stamp = rules_stamp_version()
        cache.set(STAMP_KEY, stamp, timeout=None)
        return stamp
    return rules_stamp_version()


def publish_stamp(version: int) -> None:
    """Called after a rules write commits: tell every process (Redis) and refresh this one at once."""
    if settings.REDIS_URL:
        # Re-read after commit so a slower, older publish can't overwrite a newer stamp for long.
        cache.set(STAMP_KEY, max(version, rules_stamp_version()), timeout=None)
    invalidate()


def invalidate() -> None:
    """Forget the cached rules in this process; the next call reloads them."""
    with _state.lock:
        _state.stamp = None
        _state.checked_at = float("-inf")
