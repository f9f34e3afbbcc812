"""Reads for training: events straight into numpy, id maps, runs and versions.

PostgreSQL: one `COPY ... TO STDOUT (FORMAT BINARY)` of fixed-width rows parsed with a numpy
record dtype, chunk by chunk (no Python object per event). SQLite (the embedded default, small
shops): a cursor read in chunks of 50,000 rows.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import connection

from recsys import matrix as mx
from recsys.models import Event, Feedback, FeedbackType, Item, ModelVersion, Shopper, TrainingRun

CHUNK_ROWS = 262_144
# One COPY BINARY tuple: int16 field count, then (int32 length, value) per field.
_PG_ROW = np.dtype([
    ("n", ">i2"), ("l1", ">i4"), ("user", ">i8"), ("l2", ">i4"), ("item", ">i8"),
    ("l3", ">i4"), ("type", ">i2"), ("l4", ">i4"), ("value", ">f4"), ("l5", ">i4"), ("ts", ">f8"),
])
_PG_HEADER = 19  # signature (11) + flags (4) + header extension length (4, always 0 here)


def _events_sql(epoch_expr: str, *, pg_types: bool = False) -> str:
    """One row per event: shopper pk, item pk, type code, value, epoch seconds. With pg_types the
    columns are cast to the fixed widths _PG_ROW expects."""
    q = connection.ops.quote_name
    cast = (lambda sql, t: f"({sql})::{t}") if pg_types else (lambda sql, t: sql)
    case = "CASE e.{} {} ELSE 0 END".format(
        q("type"), " ".join(f"WHEN '{name}' THEN {code}" for name, code in mx.TYPE_CODES.items()))
    return (
        f"SELECT {cast('e.' + q('shopper_id'), 'int8')}, {cast('e.' + q('item_id'), 'int8')}, "
        f"{cast(case, 'int2')}, {cast('e.' + q('value'), 'float4')}, {cast(epoch_expr, 'float8')} "
        f"FROM {q(Event._meta.db_table)} e JOIN {q(Shopper._meta.db_table)} s ON s.{q('id')} = e.{q('shopper_id')} "
        f"WHERE s.{q('personalization_consent')} AND e.{q('timestamp')} >= %s"
    )


def event_arrays(*, config: mx.WeightConfig, now: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(shopper pks, item pks, weights, events read) of consenting shoppers inside the window.
    Events that weigh nothing (low ratings, past the window) are dropped chunk by chunk."""
    since = now - timedelta(days=config.window_days) if config.window_days > 0 else datetime(1971, 1, 1, tzinfo=UTC)
    chunks = _pg_chunks(since) if connection.vendor == "postgresql" else _generic_chunks(since)
    now_s = now.timestamp()
    users, items, weights, total = [], [], [], 0
    for u, i, t, v, ts in chunks:
        total += len(u)
        w = mx.event_weights(t, v, ts, now=now_s, config=config)
        keep = w > 0
        users.append(u[keep])
        items.append(i[keep])
        weights.append(w[keep])
    if not users:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32), 0
    return np.concatenate(users), np.concatenate(items), np.concatenate(weights), total


def _pg_chunks(since: datetime):
    sql = _events_sql('EXTRACT(EPOCH FROM e."timestamp")', pg_types=True)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        buffer = bytearray()
        header_skipped = False
        with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", (since,)) as copy:
            for block in copy:
                buffer += block
                if not header_skipped and len(buffer) >= _PG_HEADER:
                    del buffer[:_PG_HEADER]
                    header_skipped = True
                if len(buffer) >= CHUNK_ROWS * _PG_ROW.itemsize:
                    yield _parse_pg(buffer)
        if buffer:
            chunk = _parse_pg(buffer)
            if len(chunk[0]):
                yield chunk


def _parse_pg(buffer: bytearray):
    """Parse the whole records in `buffer` and drop them from it (a trailer/partial row stays)."""
    n = len(buffer) // _PG_ROW.itemsize
    rows = np.frombuffer(bytes(buffer[: n * _PG_ROW.itemsize]), dtype=_PG_ROW)
    del buffer[: n * _PG_ROW.itemsize]
    return (rows["user"].astype(np.int64), rows["item"].astype(np.int64), rows["type"].astype(np.int8),
            rows["value"].astype(np.float32), rows["ts"].astype(np.float64))


def _generic_chunks(since: datetime):
    q = connection.ops.quote_name
    epoch = f"(julianday(e.{q('timestamp')}) - 2440587.5) * 86400.0"
    with connection.cursor() as cursor:
        cursor.execute(_events_sql(epoch), [since.strftime("%Y-%m-%d %H:%M:%S")])
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
    """The external ids (user_id / item_id) of sorted `pks`, as a numpy unicode array."""
    if len(pks) == 0:
        return np.zeros(0, dtype=str)
    lo, hi = int(pks[0]), int(pks[-1])
    rows = model.objects.filter(pk__gte=lo, pk__lte=hi).order_by("pk").values_list("pk", field)
    all_pks, ids = [], []
    for pk, external in rows.iterator(chunk_size=20_000):
        all_pks.append(pk)
        ids.append(external)
    all_pks = np.asarray(all_pks, dtype=np.int64)
    where = np.searchsorted(all_pks, pks)
    return np.asarray(ids, dtype=str)[where]


def shopper_ids(pks: np.ndarray) -> np.ndarray:
    return external_ids(Shopper, pks, "user_id")


def item_ids(pks: np.ndarray) -> np.ndarray:
    return external_ids(Item, pks, "item_id")


def active_model_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def training_run_get(run_id: int) -> TrainingRun | None:
    return TrainingRun.objects.select_related("model_version").filter(pk=run_id).first()


def training_runs_recent(limit: int = 50):
    return TrainingRun.objects.select_related("model_version").order_by("-created_at")[:limit]


def model_versions_recent(limit: int = 50):
    return ModelVersion.objects.select_related("run").order_by("-created_at")[:limit]
