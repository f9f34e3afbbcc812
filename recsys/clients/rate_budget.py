"""Rate budgets shared by every process, spent locally: at most one Redis round trip per many requests.

A client's budget is `num_requests` per fixed window of `duration` seconds, counted in one shared
counter per client, scope and window (Redis; without Redis the Django cache of the process). A process
does not ask the counter on every request: it *leases* a slice of the budget with one atomic script
(INCRBY, capped at the limit: what is over is given back in the same call) and spends the slice
locally. The slice is a small share of the limit, and shrinks as the window's budget runs out, so the
budget left unspent in other processes when the window ends stays a few percent of the limit; once
the counter is spent, the process refuses locally until the next window (no round trip at all).

Compared with asking the counter on every request (three round trips with Django's cache API: the
throttle was a fifth of a personal list's time), a client at 100,000/min costs a process one round
trip per ~2,000 of its requests.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

SLICES = 50  # a lease is at most 1/SLICES of the limit...
SHRINK = 8  # ...and at most 1/SHRINK of what the window has left, so little is stranded at its end

# KEYS[1] the window's counter; ARGV: wanted, limit, ttl. Returns {granted, used after}.
LEASE_SCRIPT = """
local want = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local used = redis.call('INCRBY', KEYS[1], want)
if used == want then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if used > limit then
  local over = math.min(used - limit, want)
  used = redis.call('DECRBY', KEYS[1], over)
  return {want - over, used}
end
return {want, used}
"""


@dataclass
class _Local:
    window: int
    left: int = 0  # leased, not yet spent
    used: int = 0  # the shared counter, as of this process's last lease
    spent_out: bool = False  # the shared counter is at the limit: refuse without asking


class RateBudgets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local: dict[str, _Local] = {}
        self._script = None
        self._script_client = None
        self.leases = 0  # round trips to the shared counter (the bench and tests read it)

    def take(self, key: str, *, cost: int, limit: int, duration: int, now: float) -> tuple[bool, float]:
        """Spend `cost` of the budget `key` (limit per duration-second window). Returns (allowed, seconds
        until the window ends)."""
        window = int(now // duration)
        wait = (window + 1) * duration - now
        with self._lock:
            state = self._local.get(key)
            if state is None or state.window != window:
                if len(self._local) > 10_000:
                    self._local.clear()  # bounded by clients x scopes; a clear only costs a lease
                state = self._local[key] = _Local(window)
            if state.left >= cost:
                state.left -= cost
                return True, wait
            if state.spent_out or cost > limit:
                return False, wait
            want = max(cost - state.left, min(max(1, limit // SLICES), max(1, (limit - state.used) // SHRINK)))
        granted, used = self._lease(f"{key}:{window}", want, limit, duration)  # outside the lock: I/O
        with self._lock:
            if state.window != window:  # another thread started the next window meanwhile
                return False, wait
            state.left += granted
            state.used = max(state.used, used)
            if granted < want:
                state.spent_out = True
            if state.left >= cost:
                state.left -= cost
                return True, wait
            return False, wait

    def _lease(self, key: str, want: int, limit: int, duration: int) -> tuple[int, int]:
        self.leases += 1
        ttl = 2 * duration + 1
        client = _redis_client()
        if client is not None:
            if self._script is None or self._script_client is not client:
                self._script, self._script_client = client.register_script(LEASE_SCRIPT), client
            granted, used = self._script(keys=[cache.make_key(key)], args=[want, limit, ttl])
            return int(granted), int(used)
        # No Redis: the process's own cache (locmem), the same arithmetic.
        cache.add(key, 0, timeout=ttl)
        try:
            used = cache.incr(key, want)
        except ValueError:  # expired between add and incr
            cache.set(key, want, timeout=ttl)
            used = want
        if used > limit:
            over = min(used - limit, want)
            used = cache.decr(key, over)
            return want - over, used
        return want, used

    def clear(self) -> None:
        with self._lock:
            self._local.clear()


def _redis_client():
    """The Redis client behind Django's default cache, or None when it is not Redis (locmem: no Redis)."""
    backend = caches["default"]
    return backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None


budgets = RateBudgets()
