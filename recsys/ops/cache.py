"""Django's Redis cache that misses through while Redis is down (settings.CACHES with REDIS_URL).

Every call goes through the process's Redis circuit (recsys.ops.redis_state): while it is open, a
read is a miss, a write is skipped and `incr` behaves as for a missing key, at once and without a
connection attempt. Callers already treat a miss as "ask the database", so lists, the rules stamp and
model-card figures are served from the database during an outage.
"""
from __future__ import annotations

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

from recsys.ops.redis_state import REDIS_ERRORS, circuit

_MISSING = object()


class ResilientRedisCache(RedisCache):
    def _call(self, fallback, method, *args, **kwargs):
        if not circuit.available():
            return fallback
        try:
            out = method(*args, **kwargs)
        except REDIS_ERRORS as exc:
            circuit.failed(exc)
            return fallback
        circuit.succeeded()
        return out

    def get(self, key, default=None, version=None):
        return self._call(default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._call({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._call(False, super().has_key, key, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(False, super().add, key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(list(data), super().set_many, data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._call(False, super().delete, key, version)

    def delete_many(self, keys, version=None):
        return self._call(None, super().delete_many, keys, version)

    def incr(self, key, delta=1, version=None):
        out = self._call(_MISSING, super().incr, key, delta, version)
        if out is _MISSING:
            raise ValueError(f"Key '{key}' not found (Redis unreachable)")  # what callers handle already
        return out

    def clear(self):
        return self._call(False, super().clear)
