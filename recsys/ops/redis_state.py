"""Whether Redis is reachable, as this process last saw it: a circuit breaker.

Redis is optional at run time: when a call fails with a connection error the circuit opens, and
for CURIO_REDIS_RETRY_SECONDS every caller skips Redis at once (no connection timeout paid per
request); then one caller (the probe) tries again. A success closes the circuit and bumps
`generation`, so the rules stamp knows to republish what changed meanwhile. While Redis is up the
cost per call is one attribute read (`available()`) and one comparison (`succeeded()`).

Clients are built with short socket timeouts and no client-side retry loop (redis-py retries 3
times with backoff by default): the circuit is the retry policy.
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from recsys.ops import metrics

log = logging.getLogger("curio.redis")
# What "Redis is unreachable" looks like from redis-py (BusyLoadingError, a restart loading its data, is
# a ConnectionError); OSError covers a socket failing below redis-py.
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


def connection_options() -> dict:
    """Pool options for every Redis client of Curio (the cache, the impression buffer, probes)."""
    return {"socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT,
            "socket_timeout": settings.REDIS_SOCKET_TIMEOUT,
            "retry": Retry(NoBackoff(), 0)}


def client(url: str | None = None) -> redis.Redis:
    return redis.Redis.from_url(url or settings.REDIS_URL, **connection_options())


class Circuit:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open_until = 0.0  # monotonic time of the next probe; 0.0: closed (Redis up)
        self.down_since: float | None = None
        self.generation = 0  # recoveries seen by this process

    def available(self) -> bool:
        """Should the caller try Redis now? True while up; while down, True for one probe per interval."""
        until = self.open_until
        if until == 0.0:
            return True
        now = time.monotonic()
        if now < until:
            return False
        with self._lock:
            if now < self.open_until:
                return False
            self.open_until = now + settings.REDIS_RETRY_SECONDS  # this caller is the probe
            return True

    def probe_due(self) -> bool:
        """Is a probe due (without claiming it: the next `available()` does)?"""
        return time.monotonic() >= self.open_until

    @property
    def down(self) -> bool:
        return self.open_until != 0.0

    def failed(self, exc: BaseException) -> None:
        metrics.REDIS_ERRORS.inc()
        with self._lock:
            now = time.monotonic()
            if self.open_until == 0.0:
                self.down_since = now
                log.warning("Redis unreachable (%s: %s): serving without it, retrying every %.0f s",
                            type(exc).__name__, exc, settings.REDIS_RETRY_SECONDS)
            self.open_until = now + settings.REDIS_RETRY_SECONDS

    def succeeded(self) -> None:
        if self.open_until == 0.0:
            return
        with self._lock:
            if self.open_until == 0.0:
                return
            down_for = time.monotonic() - (self.down_since or time.monotonic())
            self.open_until, self.down_since = 0.0, None
            self.generation += 1
        log.warning("Redis reachable again after %.1f s", down_for)

    def reset(self) -> None:
        """Forget what was seen (tests; a forked worker starts from 'up')."""
        with self._lock:
            self.open_until, self.down_since = 0.0, None


circuit = Circuit()


def ping() -> bool:
    """One real round trip (readiness): the answer also moves the circuit."""
    try:
        client().ping()
    except REDIS_ERRORS as exc:
        circuit.failed(exc)
        log.info("readiness: Redis ping failed: %s: %s", type(exc).__name__, exc)
        return False
    circuit.succeeded()
    return True


class OncePerInterval:
    """A log line at most once per `seconds` (the throttle failing open under an outage)."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds, self._last = seconds, float("-inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.seconds:
            return False
        self._last = now
        return True
