"""Impression recording off the request path.

`record_list(...)` is what serving calls once per served list: it turns the list into plain
rows and appends them to an in-process buffer (a deque append under a lock: microseconds).
A daemon thread drains the buffer when it holds IMPRESSION_FLUSH_SIZE rows or every
IMPRESSION_FLUSH_SECONDS, and at exit:
- with Redis (REDIS_URL): one RPUSH of the whole batch as JSON to `curio:impressions`; a Celery
  task (`recsys.tasks_trust.flush_impressions`, enqueued when the Redis list goes from empty to
  non-empty, and by beat every 10 s as a backstop) writes them to the database in bulk;
- without Redis: the thread writes them to the database itself, in bulk.
A full buffer drops new rows (counted in `stats()`) rather than slow serving down. With
IMPRESSION_BACKGROUND_FLUSH off (the test suite), nothing is written until `flush()` is called.

Nothing is lost to a fault below the caps: a batch that the database refuses goes back to the front of
the buffer, and one whose push to Redis got no answer is pushed again under the same id (a Lua script
pushes a batch id once, so a lost answer never doubles its rows); while Redis is down (its circuit open)
rows wait in the buffer, and are pushed when it is back; the flush task puts batches it could not write
back at the head of the Redis list. The Redis list is capped at IMPRESSION_REDIS_MAX_BATCHES batches (no
worker writing them): beyond it new batches are dropped and counted
(curio_impressions_dropped_total{where="redis"}).
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import uuid
from collections import deque

from django.conf import settings
from django.db import close_old_connections, connection

from config.celery import app as celery_app
from curation.rules import BOOSTED, PINNED
from recsys.analytics.services import impressions_write
from recsys.ops import metrics, redis_state
from recsys.ops.redis_state import circuit

log = logging.getLogger("curio.impressions")
REDIS_KEY = "curio:impressions"
# The flush task, sent by name: the task module (recsys.analytics.tasks) imports this one.
FLUSH_TASK = "recsys.tasks_trust.flush_impressions"
# KEYS: the list, this batch's marker; ARGV: the batch, the cap. -1: pushed before; -2: the list is full.
PUSH_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -2 end
redis.call('SET', KEYS[2], '1', 'EX', 86400)
return redis.call('RPUSH', KEYS[1], ARGV[1])
"""
FIELDS = ("recommendation_id", "position", "item_id", "source", "rule_id", "placement", "list_type",
          "model_version", "user_id", "is_control", "created_at", "rule_ids", "holdout_rule_ids")
# rule_ids: the pins/boosts/annotations that touched the item (exposed); holdout_rule_ids: the rules the
# shopper was held out of that would have filled this position (curation.rules.RankedItem).


def placing_rule_id(source: str, trace: dict | None) -> int | None:
    """The rule that put an item where it is: its pin, or its first boost (not a bury), read from the trace
    entries' `action` (curation.rules.ACTIONS), never from their prose `effect`."""
    if source not in ("pinned", "boosted") or not trace:
        return None
    action = PINNED if source == "pinned" else BOOSTED
    for ref in trace.get("rules") or ():
        if ref.get("action") == action:
            return ref.get("id") or None
    return None


def rows_for_list(*, recommendation_id: str, items: list, placement: str, list_type: str,
                  model_version: int | None, user_id: str, is_control: bool, created_at: float,
                  count_rules: bool = True) -> list[tuple]:
    """One row per served item. `items` are mappings or objects with item_id, rank, source and
    optionally trace (curation.rules.RankedItem or the response dicts). `count_rules=False`: no rule
    impressions (the rows' rule id lists stay empty)."""
    rows = []
    for it in items:
        get = it.get if isinstance(it, dict) else lambda k, _it=it: getattr(_it, k, None)
        source = get("source") or "model"
        rows.append((recommendation_id, int(get("rank")), get("item_id"), source,
                     get("rule_id") if get("rule_id") is not None else placing_rule_id(source, get("trace")),
                     placement or "", list_type or "", model_version, user_id or "", bool(is_control), created_at,
                     list(get("rule_ids") or ()) if count_rules else [],
                     list(get("holdout_rule_ids") or ()) if count_rules else []))
    return rows


class ImpressionBuffer:
    def __init__(self) -> None:
        self._rows: deque[tuple] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = False
        self.dropped = 0
        self.dropped_redis = 0
        self.written = 0
        self._redis = None
        self._push_script = None
        self._unsent: tuple[str, list[tuple]] | None = None  # a batch whose push got no answer

    # -- request path ------------------------------------------------------------------------
    def add(self, rows: list[tuple]) -> None:
        with self._cond:
            if len(self._rows) + len(rows) > settings.IMPRESSION_BUFFER_MAX:
                self.dropped += len(rows)
                metrics.IMPRESSIONS_DROPPED.labels("buffer").inc(len(rows))
                return
            self._rows.extend(rows)
            metrics.IMPRESSIONS_BUFFERED.inc(len(rows))
            if len(self._rows) >= settings.IMPRESSION_FLUSH_SIZE:
                self._cond.notify()
        if settings.IMPRESSION_BACKGROUND_FLUSH and self._pid != os.getpid():
            self._start()

    # -- background ----------------------------------------------------------------------------
    def _start(self) -> None:
        with self._cond:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self._pid = os.getpid()  # a forked worker starts its own thread
            self._redis = None
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="impression-flusher", daemon=True)
            self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        stalled = False  # rows left that could not be handed over (Redis down): wait, don't spin
        while True:
            with self._cond:
                if (stalled or len(self._rows) < settings.IMPRESSION_FLUSH_SIZE) and not self._stop:
                    self._cond.wait(timeout=settings.IMPRESSION_FLUSH_SECONDS)
                stop = self._stop
            close_old_connections()
            try:
                self.flush()
                stalled = self.buffered() > 0
            except Exception as exc:  # noqa: BLE001 - the flusher must survive a DB or Redis hiccup
                log.warning("impression flush failed (%s: %s); the rows stay buffered, will retry",
                            type(exc).__name__, exc)
                stalled = True
            if stop and settings.REDIS_URL and self.buffered():
                self._push_again_at_exit()
            if stop and settings.REDIS_URL and self.buffered():
                self._write_left_at_exit()
            if connection.vendor == "sqlite":
                connection.close()  # don't hold a SQLite connection in a sleeping thread
            if stop:
                return

    def _push_again_at_exit(self, attempts: int = 3, pause: float = 0.3) -> None:
        """Stopping with rows left: a push whose answer was lost (a timeout under load) may have reached
        Redis, so writing that batch to the database could count it twice. The push is idempotent per
        batch id: try Redis a few more times, past the circuit, before the database."""
        for _ in range(attempts):
            circuit.reset()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the next attempt, then the database
                time.sleep(pause)
            if not self.buffered():
                return

    def _write_left_at_exit(self) -> None:
        """The process stops while Redis is down: what it still buffers goes straight to the database."""
        batch = (self._unsent[1] if self._unsent is not None else []) + self.drain()
        self._unsent = None
        try:
            impressions_write(rows=batch)
            metrics.IMPRESSIONS_FLUSHED.inc(len(batch))
            log.warning("impressions: Redis down at exit, %s buffered rows written to the database", len(batch))
        except Exception:  # noqa: BLE001 - at exit there is nowhere left to keep them
            log.exception("impressions: %s buffered rows lost at exit (Redis and the database failed)", len(batch))

    def close(self) -> None:
        thread = self._thread
        if thread is None or self._pid != os.getpid():
            return
        with self._cond:
            self._stop = True
            self._cond.notify()
        thread.join(timeout=10)
        self._thread = None

    # -- draining ------------------------------------------------------------------------------
    def drain(self, limit: int | None = None) -> list[tuple]:
        with self._cond:
            n = len(self._rows) if limit is None else min(limit, len(self._rows))
            return [self._rows.popleft() for _ in range(n)]

    def put_back(self, batch: list[tuple]) -> None:
        """A batch whose hand-over failed goes back to the front of the buffer, in order (the buffer may
        go over its cap by this one batch: rows already accepted are not dropped for a sink's error)."""
        with self._cond:
            self._rows.extendleft(reversed(batch))

    def flush(self) -> int:
        """Move everything buffered to its sink now; returns the rows handed over. A batch the sink
        refuses (Redis or the database down) is kept and the error raised; while Redis's circuit is
        open nothing is tried: the rows wait here, within IMPRESSION_BUFFER_MAX."""
        total = 0
        try:
            while True:
                if settings.REDIS_URL and not circuit.available():
                    break
                if self._unsent is not None:  # a push whose answer never came: the same batch, the same id
                    batch_id, batch = self._unsent
                else:
                    batch, batch_id = self.drain(max(1, settings.IMPRESSION_FLUSH_SIZE) * 5), uuid.uuid4().hex
                    if not batch:
                        break
                try:
                    if settings.REDIS_URL:
                        self._push_to_redis(batch_id, batch)
                    else:
                        impressions_write(rows=batch)
                        metrics.IMPRESSIONS_FLUSHED.inc(len(batch))
                except BaseException:
                    if settings.REDIS_URL:
                        self._unsent = (batch_id, batch)
                    else:
                        self.put_back(batch)
                    raise
                self._unsent = None
                total += len(batch)
        finally:
            self.written += total
            metrics.IMPRESSION_BUFFER_ROWS.set(self.buffered())
        return total

    def buffered(self) -> int:
        return len(self._rows) + (len(self._unsent[1]) if self._unsent is not None else 0)

    def _push_to_redis(self, batch_id: str, batch: list[tuple]) -> None:
        """One atomic, idempotent push (a Lua script): a batch already pushed under `batch_id` (its answer lost
        to a timeout or a crash) is not pushed twice, and a full list (the cap) drops the batch, counted."""
        if self._redis is None:
            self._redis = redis_state.client()
            self._push_script = self._redis.register_script(PUSH_SCRIPT)
        try:
            length = self._push_script(keys=[REDIS_KEY, f"{REDIS_KEY}:pushed:{batch_id}"],
                                       args=[json.dumps(batch), settings.IMPRESSION_REDIS_MAX_BATCHES])
        except redis_state.REDIS_ERRORS as exc:
            circuit.failed(exc)
            raise
        circuit.succeeded()
        if length == -2:
            # Nobody is writing them to the database (no worker?): the list is capped, newest dropped.
            self.dropped_redis += len(batch)
            metrics.IMPRESSIONS_DROPPED.labels("redis").inc(len(batch))
            log.warning("impressions: the Redis list holds %s batches (the cap): %s rows dropped",
                        settings.IMPRESSION_REDIS_MAX_BATCHES, len(batch))
        elif length == 1:  # the list was empty: nobody is flushing yet
            try:
                enqueue_flush_task()
            except Exception:  # noqa: BLE001 - the batch is in Redis; the beat backstop sends the task
                log.warning("impressions: could not send the flush task (the beat backstop will)", exc_info=True)

    def stats(self) -> dict:
        return {"buffered": self.buffered(), "dropped": self.dropped, "dropped_redis": self.dropped_redis,
                "written": self.written}


_broker: dict[str, object] = {}  # REDIS_URL -> one kept broker connection (a new one per send cost 1.3% of a worker)
_broker_lock = threading.Lock()


def enqueue_flush_task() -> None:
    """Send the flush task through the broker at REDIS_URL (the Celery broker when Redis is used), over
    one connection kept per process; a connection that fails is dropped and the send tried once on a new one."""
    url = settings.REDIS_URL
    with _broker_lock:
        for attempt in (1, 2):  # a kept connection may be stale (Redis restarted): one more try on a new one
            conn = _broker.get(url)
            if conn is None:
                conn = _broker[url] = celery_app.connection_for_write(url)
            try:
                celery_app.send_task(FLUSH_TASK, connection=conn, retry=False)
                return
            except Exception:
                _broker.pop(url, None)
                conn.release()
                if attempt == 2:
                    raise


_buffer = ImpressionBuffer()


def buffer() -> ImpressionBuffer:
    return _buffer


def record_list(*, recommendation_id: str, items: list, placement: str = "", list_type: str = "",
                model_version: int | None = None, user_id: str = "", is_control: bool = False,
                count_rules: bool = True) -> None:
    """Serving's one call per served list. Never raises into the request."""
    if not settings.IMPRESSIONS_ENABLED or not items:
        return
    try:
        _buffer.add(rows_for_list(recommendation_id=recommendation_id, items=items, placement=placement,
                                  list_type=list_type, model_version=model_version, user_id=user_id,
                                  is_control=is_control, created_at=time.time(), count_rules=count_rules))
    except Exception:  # noqa: BLE001 - recording must never break a list response
        log.exception("could not buffer impressions")


def pop_redis_batches(client, max_batches: int) -> list[tuple]:
    """Take up to `max_batches` pushed batches off the Redis list (atomically per call)."""
    return rows_of(client.lpop(REDIS_KEY, max_batches) or [])


def rows_of(blobs: list) -> list[tuple]:
    rows: list[tuple] = []
    for blob in blobs:
        rows.extend(tuple(r) for r in json.loads(blob))
    return rows


def write_redis_batches(client, max_batches: int) -> int:
    """The flush task's round: take up to `max_batches` batches off the Redis list, write them, and
    put them back at the head of the list if the write fails (the error is raised: the task retries),
    so a database error loses nothing. Should Redis fail too, the rows go to this process's buffer,
    which pushes them again once Redis is back. Returns rows written (0: the list is empty)."""
    blobs = client.lpop(REDIS_KEY, max_batches) or []
    if not blobs:
        return 0
    rows = rows_of(blobs)
    try:
        written = impressions_write(rows=rows)
    except BaseException:
        try:
            client.lpush(REDIS_KEY, *reversed(blobs))  # LPUSH reverses: the head gets the oldest again
        except redis_state.REDIS_ERRORS:
            log.warning("impressions: a failed flush could not put %s rows back in Redis; kept in memory", len(rows))
            _buffer.put_back(rows)
            if settings.IMPRESSION_BACKGROUND_FLUSH:
                _buffer._start()
        raise
    metrics.IMPRESSIONS_FLUSHED.inc(len(rows))
    return written or len(rows)
