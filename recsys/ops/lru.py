"""The one bounded per-process cache: a thread-safe LRU with a freshness limit.

Every per-process cache keyed by request input uses it (API tokens, item cards, popular lists' category
tails): a key is whatever a request names, so a plain dict would grow with every new one; here at most
`maxsize` entries are kept and the least recently used goes first. Entries older than `ttl()` seconds read
as missing (and are replaced by the next `put`). Values that change with a write rather than with time
(the rules, the catalog's availability) are kept by stamp instead (recsys.ops.stamps).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any


class TimedLRU:
    def __init__(self, maxsize: int, ttl: Callable[[], float]):
        self.maxsize = maxsize
        self._ttl = ttl  # read at each lookup: settings may change at run time (tests)
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or time.monotonic() - hit[0] >= self._ttl():
                return default
            self._entries.move_to_end(key)
            return hit[1]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Hashable]:  # keys, least recently used first
        with self._lock:
            return iter(list(self._entries))
