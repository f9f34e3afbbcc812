"""Serving's reads about shoppers: recent history, seen items, consent and "not interested" items.

The single-shopper path (every personal/similar/basket request with a shopper) is one round trip:
recent events and "not interested" feedback come back together from one hand-written query (portable
SQL over the models' own table names), since round trips, not rows, dominate a list request's DB time.
The catalog's availability is not read per request (recsys.catalog.availability).
"""
from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils.dateparse import parse_datetime

from recsys.catalog.models import Event, Item, Shopper
from recsys.feedback.models import Feedback, FeedbackType

log = logging.getLogger(__name__)


@dataclass
class ShopperHistory:
    """A shopper's most recent events (newest first) and every item they have events for."""

    user_id: str
    consent: bool = True
    item_ids: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)  # epoch seconds
    seen: frozenset[str] = frozenset()
    not_interested: frozenset[str] = frozenset()

    @property
    def known(self) -> bool:
        return bool(self.item_ids)


_COLUMNS = ("shopper__user_id", "shopper__personalization_consent", "item__item_id", "type", "value", "timestamp")


def shopper_histories(*, user_ids: list[str], limit: int) -> dict[str, ShopperHistory]:
    """Up to `limit` most recent events per shopper; shoppers without events are absent.

    One query for a single shopper (index shopper+timestamp), one windowed query for a batch;
    a second query only for shoppers whose history is longer than `limit` (their full seen set).
    """
    if len(user_ids) > 1:
        rows = (Event.objects.filter(shopper__user_id__in=user_ids)
                .annotate(rn=Window(RowNumber(), partition_by=[F("shopper_id")], order_by=F("timestamp").desc()))
                .filter(rn__lte=limit).order_by("shopper_id", "-timestamp").values_list(*_COLUMNS))
    else:
        rows = Event.objects.filter(shopper__user_id=user_ids[0]).order_by("-timestamp").values_list(*_COLUMNS)[:limit]
    out: dict[str, ShopperHistory] = {}
    for user_id, consent, item_id, type_, value, ts in rows:
        hist = out.get(user_id)
        if hist is None:
            hist = out[user_id] = ShopperHistory(user_id=user_id, consent=consent)
        hist.item_ids.append(item_id)
        hist.types.append(type_)
        hist.values.append(value)
        hist.timestamps.append(ts.timestamp())
    _set_seen(list(out.values()), limit)
    return out


def _set_seen(histories: list[ShopperHistory], limit: int) -> None:
    """Every item each shopper has events for: their recent events, plus one query for the shoppers
    whose history reached `limit` (older events may name other items)."""
    for hist in histories:
        hist.seen = frozenset(hist.item_ids)
    seen: dict[str, set[str]] = {h.user_id: set() for h in histories if len(h.item_ids) >= limit}
    if not seen:
        return
    for user_id, item_id in (Event.objects.filter(shopper__user_id__in=list(seen))
                             .values_list("shopper__user_id", "item__item_id").distinct()):
        seen[user_id].add(item_id)
    for hist in histories:
        if hist.user_id in seen:
            hist.seen = frozenset(seen[hist.user_id])


def _prepared_fetchall(sql: str, params: list) -> list[tuple]:
    """Run `sql` as a server-side prepared statement on Django's own PostgreSQL connection.

    Django's psycopg cursors bind parameters client-side, so PostgreSQL parsed and planned the
    serving query on every request (the plan alone took longer than running it). A psycopg cursor
    that binds server-side and prepares keeps the plan for the connection's life (CONN_MAX_AGE);
    Django's wrapper around it keeps execute wrappers and error translation working. A statement
    that became unusable (see `recsys.serving.prepared.STALE`) costs one reconnect, not an error per request.
    """
    # Lazy: psycopg is the driver only on PostgreSQL (this path never runs on SQLite).
    from recsys.serving.prepared import STALE, PreparedCursor, preparing

    connection.ensure_connection()
    started = time.monotonic()
    try:
        with preparing(connection.connection), connection.make_cursor(
                PreparedCursor(connection.connection)) as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    except DatabaseError as exc:
        if not isinstance(exc.__cause__, STALE) or connection.in_atomic_block:
            raise
        log.warning("serving query: the prepared statement is unusable (%s); reconnecting. Behind a pooler "
                    "that does not keep prepared statements, set CURIO_DB_PREPARE=0.", exc)
        connection.close()  # a new server session; psycopg forgets the statement with the old one
        return _plain_fetchall(sql, params)
    if connection.queries_logged:  # Django's debug cursor can't read a prepared statement's text back
        connection.queries_log.append({"sql": connection.ops.compose_sql(sql, params),
                                       "time": f"{time.monotonic() - started:.3f}"})
    return rows


def _plain_fetchall(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@functools.cache
def _single_sql(limit: int) -> str:
    """Only the user id is a parameter (the limit and the feedback type are inlined literals)."""
    event, shopper, item, feedback = (m._meta.db_table for m in (Event, Shopper, Item, Feedback))
    not_interested = FeedbackType.NOT_INTERESTED.value
    assert not_interested.isidentifier()  # inlined as a literal
    return (
        "SELECT * FROM (SELECT 'e' AS kind, s.personalization_consent AS consent, i.item_id AS item_id, "
        "e.type AS type, e.value AS value, e.timestamp AS ts "
        f"FROM {event} e JOIN {shopper} s ON s.id = e.shopper_id JOIN {item} i ON i.id = e.item_id "
        f"WHERE s.user_id = %s ORDER BY e.timestamp DESC LIMIT {limit}) h "
        "UNION ALL "
        "SELECT 'f', s.personalization_consent, i.item_id, NULL, NULL, NULL "
        f"FROM {feedback} f JOIN {shopper} s ON s.id = f.shopper_id JOIN {item} i ON i.id = f.item_id "
        f"WHERE s.user_id = %s AND f.type = '{not_interested}'"
    )


def serving_reads(*, user_id: str, limit: int) -> ShopperHistory | None:
    """One shopper's recent events and "not interested" items: one round trip (None: neither)."""
    sql = _single_sql(int(limit))
    fetch = _prepared_fetchall if connection.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS \
        else _plain_fetchall
    rows = fetch(sql, [user_id, user_id])
    if not rows:
        return None
    hist = ShopperHistory(user_id=user_id, consent=bool(rows[0][1]))
    rejected = set()
    for kind, _, item_id, type_, value, ts in rows:
        if kind == "f":
            rejected.add(item_id)
            continue
        if isinstance(ts, str):  # SQLite hands back naive UTC text
            ts = parse_datetime(ts)
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        hist.item_ids.append(item_id)
        hist.types.append(type_)
        hist.values.append(float(value))
        hist.timestamps.append(ts.timestamp())
    hist.not_interested = frozenset(rejected)
    _set_seen([hist], limit)
    return hist
