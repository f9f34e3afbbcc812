"""Reads for training: events straight into numpy, id maps, runs and versions.

PostgreSQL: per range of table blocks, ONE result row holding five binary arrays
(`array_send(array_agg(col))`, fetched in binary), parsed straight into numpy: no Python object
per event and no per-row protocol overhead (psycopg's COPY reads one message per row, ~7 us each,
which alone would cost more than the whole 15% budget at 3M events). Consent is applied in numpy
from the (short) list of shoppers who withdrew it, so the scan needs no join. SQLite (the embedded
default, small shops): a cursor read in chunks of 50,000 rows.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection, connections
from django.db.models import Exists, OuterRef, Q

from recsys.analytics.models import Impression
from recsys.catalog.models import Event, Item, Shopper
from recsys.core.demo_mode import demo_mode_on
from recsys.core.limits import DEMO_USER_PREFIX
from recsys.feedback.models import Feedback, FeedbackType
from recsys.ml import matrix
from recsys.ml.matrix import TYPE_CODES
from recsys.ml.promoted_interactions import downweight
from recsys.training.models import ModelVersion, TrainingRun

PG_CHUNK_BLOCKS = 4_096  # 8 kB blocks per query (~32 MB of table, ~300k events)
PG_PARALLEL = 2
PG_EPOCH_2000 = 946_684_800.0  # binary timestamptz counts microseconds from 2000-01-01 UTC


def _sqlite_events_sql() -> str:
    """One row per event of a consenting shopper: shopper pk, item pk, type code, value, epoch s."""
    q = connection.ops.quote_name
    case = "CASE e.{} {} ELSE 0 END".format(
        q("type"), " ".join(f"WHEN '{name}' THEN {code}" for name, code in matrix.TYPE_CODES.items()))
    return (
        f"SELECT e.{q('shopper_id')}, e.{q('item_id')}, {case}, e.{q('value')}, "
        f"(julianday(e.{q('timestamp')}) - 2440587.5) * 86400.0 "
        f"FROM {q(Event._meta.db_table)} e JOIN {q(Shopper._meta.db_table)} s ON s.{q('id')} = e.{q('shopper_id')} "
        f"WHERE s.{q('personalization_consent')} AND e.{q('timestamp')} >= %s"
    )


def event_arrays(*, config: matrix.WeightConfig, now: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(shopper pks, item pks, weights, events read) of consenting shoppers inside the window.
    Events that weigh nothing (low ratings, past the window) are dropped chunk by chunk. Outside demo
    mode, demo shoppers (the public demo token's) are left out like shoppers without consent."""
    since = now - timedelta(days=config.window_days) if config.window_days > 0 else datetime(1971, 1, 1, tzinfo=UTC)
    chunks = _pg_chunks(since) if connection.vendor == "postgresql" else _generic_chunks(since)
    left_out = Q(personalization_consent=False)
    if not demo_mode_on():
        left_out |= Q(user_id__startswith=DEMO_USER_PREFIX)
    withdrawn = np.fromiter(Shopper.objects.filter(left_out).values_list("pk", flat=True), dtype=np.int64)
    now_s = now.timestamp()
    users, items, weights, total = [], [], [], 0
    for u, i, t, v, ts in chunks:
        consenting = ~np.isin(u, withdrawn) if len(withdrawn) else np.ones(len(u), dtype=bool)
        total += int(consenting.sum())
        w = matrix.event_weights(t, v, ts, now=now_s, config=config)
        keep = (w > 0) & consenting
        users.append(u[keep])
        items.append(i[keep])
        weights.append(w[keep])
    if not users:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32), 0
    return np.concatenate(users), np.concatenate(items), np.concatenate(weights), total


def _type_lookup() -> np.ndarray:
    """Type code by the first letter of the type (ascii(type) in SQL is far cheaper than a CASE)."""
    lookup = np.full(256, -1, dtype=np.int8)
    for name, code in matrix.TYPE_CODES.items():
        assert lookup[ord(name[0])] == -1, "event types must start with distinct letters"
        lookup[ord(name[0])] = code
    return lookup


def _pg_chunks(since: datetime):
    """Chunks of the events table by physical block range (TID range scans: sequential reads, no
    index), fetched on up to 2 connections at once unless we are inside a transaction (whose
    uncommitted rows other connections could not see)."""
    q = connection.ops.quote_name
    table = q(Event._meta.db_table)
    columns = [q("shopper_id"), q("item_id"), f"ascii({q('type')})::int2", f"{q('value')}::float8", q("timestamp")]
    # All five aggregates of one Agg node see the rows in the same order, so the arrays line up.
    sql = (f"SELECT {', '.join(f'array_send(array_agg({c}))' for c in columns)} FROM {table} "
           f"WHERE ctid >= ('(' || %s::bigint || ',0)')::tid AND ctid < ('(' || %s::bigint || ',0)')::tid "
           f"AND {q('timestamp')} >= %s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::int", [Event._meta.db_table])
        blocks = int(cursor.fetchone()[0])
    step = max(PG_CHUNK_BLOCKS, -(-blocks // 64))
    ranges = [(start, start + step) for start in range(0, blocks + 1, step)]
    lookup = _type_lookup()

    def fetch(block_range, conn=None):
        raw = psycopg.Cursor(conn or connection.connection)  # Django's cursors cannot fetch binary
        raw.execute(sql, (block_range[0], block_range[1], since), binary=True)
        row = raw.fetchone()
        raw.close()
        if row is None or row[0] is None:
            return None
        return (_pg_array(row[0], ">i8").astype(np.int64), _pg_array(row[1], ">i8").astype(np.int64),
                lookup[_pg_array(row[2], ">i2").astype(np.int64) & 255],
                _pg_array(row[3], ">f8").astype(np.float32),
                _pg_array(row[4], ">i8").astype(np.float64) / 1e6 + PG_EPOCH_2000)

    if connection.in_atomic_block or len(ranges) == 1:
        connection.ensure_connection()
        for block_range in ranges:
            if (chunk := fetch(block_range)) is not None:
                yield chunk
        return

    def fetch_in_thread(block_range):
        try:
            connections["default"].ensure_connection()
            return fetch(block_range, connections["default"].connection)
        finally:
            connections["default"].close()

    with ThreadPoolExecutor(max_workers=PG_PARALLEL) as pool:
        for chunk in pool.map(fetch_in_thread, ranges):
            if chunk is not None:
                yield chunk


def _pg_array(data: bytes, dtype: str) -> np.ndarray:
    """Values of a 1-D, NULL-free PostgreSQL binary array (array_send): a 20-byte header, then
    (int32 length, value) per element."""
    header = np.frombuffer(data, dtype=">i4", count=5)
    if header[0] != 1 or header[1] != 0:
        raise ValueError("expected a one-dimensional array without NULLs")
    rows = np.frombuffer(data, dtype=np.dtype([("len", ">i4"), ("v", dtype)]), offset=20, count=int(header[3]))
    return rows["v"]


def _generic_chunks(since: datetime):
    with connection.cursor() as cursor:
        cursor.execute(_sqlite_events_sql(), [since.strftime("%Y-%m-%d %H:%M:%S")])
        while rows := cursor.fetchmany(50_000):
            a = np.array(rows, dtype=np.float64)
            yield a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int8), \
                a[:, 3].astype(np.float32), a[:, 4]


def negative_interactions() -> tuple[np.ndarray, np.ndarray]:
    """(shopper pks, item pks) a shopper said "not interested" in: removed from the training matrix.

    The hook for explicit negative feedback: extend it (e.g. returns, dislikes) and training picks
    it up; it must stay a bulk read.
    """
    pairs = np.array(
        list(Feedback.objects.filter(type=FeedbackType.NOT_INTERESTED).values_list("shopper_id", "item_id")),
        dtype=np.int64,
    ).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def external_ids(model, pks: np.ndarray, field: str) -> np.ndarray:
    """The external ids (user_id / item_id) of sorted `pks`, as a numpy unicode array; "" for a pk that is
    gone (never the id of a neighbouring row)."""
    if len(pks) == 0:
        return np.zeros(0, dtype=str)
    lo, hi = int(pks[0]), int(pks[-1])
    rows = model.objects.filter(pk__gte=lo, pk__lte=hi).order_by("pk").values_list("pk", field)
    all_pks, ids = [], []
    for pk, external in rows.iterator(chunk_size=20_000):
        all_pks.append(pk)
        ids.append(external)
    all_pks = np.asarray(all_pks, dtype=np.int64)
    found = np.asarray(ids + [""], dtype=str)
    where = np.minimum(np.searchsorted(all_pks, pks), len(all_pks))
    exact = where < len(all_pks)
    exact[exact] = all_pks[where[exact]] == pks[exact]
    where[~exact] = len(all_pks)  # the trailing "": a row whose shopper or item is gone
    return found[where]


def shopper_ids(pks: np.ndarray) -> np.ndarray:
    return external_ids(Shopper, pks, "user_id")


def item_ids(pks: np.ndarray) -> np.ndarray:
    return external_ids(Item, pks, "item_id")


def active_model_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def training_run_get(run_id: int) -> TrainingRun | None:
    return TrainingRun.objects.select_related("model_version").filter(pk=run_id).first()


def last_best_candidate(*, before_run: int) -> dict | None:
    """The best trial ({"kind", "params", ...}) of the latest succeeded run before `before_run` that
    searched (training: metrics["selection"][0]; tuning: metrics["best"]): the next search's incumbent. A run the
    promotion gate rejected lends its winner no incumbent's protection."""
    runs = (TrainingRun.objects.filter(pk__lt=before_run, status=TrainingRun.Status.SUCCEEDED)
            .order_by("-pk").values_list("metrics", flat=True)[:5])
    for metrics in runs:
        best = (metrics or {}).get("best") or next(iter((metrics or {}).get("selection") or []), None)
        if isinstance(best, dict) and best.get("kind") and best.get("folds", 0) > 0:
            return best
    return None


def training_runs_recent(limit: int = 50):
    return TrainingRun.objects.select_related("model_version").order_by("-created_at")[:limit]


def model_versions_recent(limit: int = 50):
    return ModelVersion.objects.select_related("run").order_by("-created_at")[:limit]


# Training signals: interactions that curators' promotions caused count less.
PROMOTED_SOURCES = ("pinned", "boosted")


def promoted_event_arrays(*, since) -> tuple[np.ndarray, ...]:
    """(shopper pks, item pks, type codes, values, epoch seconds) of consenting shoppers' events
    that followed a pinned or boosted impression of the same item in the same list."""
    promoted = Impression.objects.filter(recommendation_id=OuterRef("recommendation_id"), item_id=OuterRef("item_id"),
                                         source__in=PROMOTED_SOURCES)
    rows = list(
        Event.objects.filter(shopper__personalization_consent=True, timestamp__gte=since)
        .exclude(recommendation_id="").filter(Exists(promoted))
        .values_list("shopper_id", "item_id", "type", "value", "timestamp")
    )
    return (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
            np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
            np.fromiter((TYPE_CODES.get(r[2], 0) for r in rows), dtype=np.int8, count=len(rows)),
            np.fromiter((r[3] for r in rows), dtype=np.float32, count=len(rows)),
            np.fromiter((r[4].timestamp() for r in rows), dtype=np.float64, count=len(rows)))


def downweight_promoted(data, *, config, now):
    """Training's hook: the matrix with interactions from promoted impressions down-weighted
    by PROMOTED_INTERACTION_WEIGHT (1 leaves the matrix as it is)."""
    factor = settings.PROMOTED_INTERACTION_WEIGHT
    if factor >= 1.0:
        return data
    since = (now - timedelta(days=config.window_days) if config.window_days > 0
             else datetime(1970, 1, 2, tzinfo=now.tzinfo))
    users, items, types, values, ts = promoted_event_arrays(since=since)
    if not len(users):
        return data
    weights = matrix.event_weights(types, values, ts, now=now.timestamp(), config=config)
    return downweight(data, users, items, weights, factor)
