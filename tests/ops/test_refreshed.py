"""recsys.ops.refreshed: a value too dear for a request is computed in the caller only the first time; afterwards a
stale value is served while one background thread recomputes it."""
from __future__ import annotations

import threading

from recsys.ops.refreshed import Refreshed


class Source:
    """A compute function whose calls can be held (an Event) or made to fail."""

    def __init__(self):
        self.calls = 0
        self.entered = threading.Event()  # set by each call once counted
        self.release = threading.Event()
        self.release.set()
        self.fail = False

    def __call__(self) -> int:
        self.calls += 1
        n = self.calls
        self.entered.set()
        assert self.release.wait(10)
        if self.fail:
            raise RuntimeError("database down")
        return n


def test_the_first_value_is_computed_by_the_caller_and_kept_while_fresh():
    source = Source()
    value = Refreshed("t", source, ttl=lambda: 60.0)
    assert value.get() == 1 and value.get() == 1
    assert source.calls == 1


def test_a_stale_value_is_served_at_once_while_one_thread_refreshes_it():
    source, ttl = Source(), [60.0]
    value = Refreshed("t", source, ttl=lambda: ttl[0], retry_seconds=0.0)
    assert value.get() == 1
    ttl[0] = 0.0  # everything is stale now
    source.release.clear()  # the refresh blocks until released
    source.entered.clear()
    answers = [value.get() for _ in range(20)]  # would hang in the caller if the refresh ran there
    assert answers == [1] * 20
    assert source.entered.wait(10)
    assert source.calls == 2  # one refresh under way, however many requests found the value stale
    source.release.set()
    value.wait(10)
    ttl[0] = 60.0
    assert value.get() == 2


def test_a_failed_refresh_keeps_the_old_value_and_is_retried_later():
    source, ttl = Source(), [60.0]
    value = Refreshed("t", source, ttl=lambda: ttl[0], retry_seconds=3600.0)
    assert value.get() == 1
    ttl[0], source.fail = 0.0, True
    assert value.get() == 1
    value.wait(10)
    assert value.get() == 1 and source.calls == 2  # failed, and not retried within retry_seconds
    value._failed_at -= 3600.0  # the retry delay has passed
    source.fail = False
    assert value.get() == 1
    value.wait(10)
    ttl[0] = 60.0
    assert value.get() == 3 and source.calls == 3  # the third call's value


def test_clear_makes_the_next_get_compute_and_drops_a_refresh_begun_before_it():
    source, ttl = Source(), [0.0]
    value = Refreshed("t", source, ttl=lambda: ttl[0], retry_seconds=0.0)
    assert value.get() == 1
    source.release.clear()
    assert value.get() == 1  # refresh (call 2) under way, held
    value.clear()
    refreshing = value._refreshing
    source.release.set()
    refreshing.join(10)
    ttl[0] = 60.0
    assert value.get() == 3  # computed by this caller after clear(); call 2's value was dropped
