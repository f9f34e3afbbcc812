"""Bulk, idempotent writes of items and events (the API and the import commands both use these).

Events: each row carries an `event_id` (sent, or derived from its content), unique in the table.
Rows are written with `INSERT ... ON CONFLICT (event_id) DO NOTHING`; a row that was not inserted
is a duplicate when the stored event says the same thing, and an error when it does not. Rows go
in sorted by id so two writers sending overlapping batches at once queue on each other's rows
instead of deadlocking, and each event is stored exactly once.

PostgreSQL takes an API batch's columns as one delimited string each (`unnest`), a handful of
statements per batch of any size; imports (`bulk=True`) COPY each large chunk into a temporary
staging table and insert it with one set-based statement. SQLite (whose IMMEDIATE transactions
already serialize writers) inserts with `executemany`. Only rows that were not inserted and
carry a sent `event_id` are read back and compared (a derived id is a hash of the content).

Event has no database FK constraints (see the model): the pks come from lookups in the writing
transaction, which on PostgreSQL lock the shopper and item rows FOR KEY SHARE, as an FK check does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from recsys.catalog.availability import availability_changed
from recsys.catalog.models import Event, Item, Shopper, ShopperAlias
from recsys.ingest.validation import (
    EventRow,
    EventRules,
    ItemRow,
    RowError,
    clean_event,
    clean_item,
    dedupe_events,
    dedupe_items,
)
from recsys.ops import metrics

# Ids cannot contain control characters (recsys.ingest.validation), so \x1f safely separates them.
_ID_SEP = "\x1f"
_SPLIT_IDS = "string_to_array(%s, E'\\x1f')"
_SPLIT = "string_to_array(%s, ',')"
_CACHE_LIMIT = 500_000  # ids kept per writer; the cache is dropped when it grows past this
_STAGING = "curio_event_staging"  # temporary, per connection; dropped at commit


class RowsRejected(Exception):
    """The batch is refused whole; `errors` says which rows and why."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} bad row(s)")
        self.errors = errors


class BatchRefused(Exception):
    """The batch as a whole is unusable (not a list, empty, too large)."""


@dataclass
class IngestCounts:
    accepted: int = 0
    duplicates: int = 0
    shoppers_created: int = 0
    items_created: int = 0
    items_updated: int = 0

    def add(self, other: IngestCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def event_rules() -> EventRules:
    return EventRules(now=timezone.now(), max_future_seconds=settings.EVENT_MAX_FUTURE_SECONDS)


def check_batch(payload, *, limit: int, noun: str) -> None:
    if not isinstance(payload, list):
        raise BatchRefused(f"Send a JSON list of {noun}s (got {type(payload).__name__}).")
    if not payload:
        raise BatchRefused(f"The list is empty: send at least one {noun}.")
    if len(payload) > limit:
        raise BatchRefused(f"{len(payload):,} {noun}s in one batch; the limit is {limit:,}. Split the batch.")


# --- events ------------------------------------------------------------------------------
def events_ingest(*, payload) -> IngestCounts:
    """Validate a whole API batch and store it, or store nothing and raise RowsRejected/BatchRefused."""
    check_batch(payload, limit=settings.EVENT_BATCH_LIMIT, noun="event")
    rules = event_rules()
    errors: list[RowError] = []
    # strict_ids: the API's JSON ids are strings, as its schema says (import files may carry numbers).
    rows = [row for i, raw in enumerate(payload)
            if (row := clean_event(raw, i, rules, errors, strict_ids=True)) is not None]
    rows, duplicates = dedupe_events(rows, errors)
    with transaction.atomic():
        # Written even when some rows failed validation, so the answer lists every bad row
        # (unknown items, clashing ids too); the rollback then leaves nothing stored.
        writer = EventWriter()
        writer.write(rows, errors)
        if errors:
            raise RowsRejected(sorted(errors))  # rolls the transaction back
    writer.counts.duplicates += duplicates
    metrics.EVENTS_STORED.inc(writer.counts.accepted)
    return writer.counts


class EventWriter:
    """Writes validated, in-batch-deduplicated event rows. Call `write` inside a transaction.

    Errors (unknown items, ids clashing with stored events) are appended to the caller's list;
    the caller decides whether they abort everything (API, import) or are skipped (--skip-bad).
    """

    def __init__(self, *, auto_create_items: bool | None = None, cache_ids: bool = False, bulk: bool = False):
        self.counts = IngestCounts()
        self.auto_create_items = settings.AUTO_CREATE_ITEMS if auto_create_items is None else auto_create_items
        self.postgres = connection.vendor == "postgresql"
        # Imports keep id maps across chunks (one transaction, so they stay true, and on PostgreSQL the
        # rows stay locked); the API asks each time.
        self._cache_ids = cache_ids
        self._bulk = bulk  # large chunks: COPY through a staging table on PostgreSQL
        self._item_pks: dict[str, int] = {}
        self._shopper_pks: dict[str, int] = {}

    def write(self, rows: list[EventRow], errors: list[RowError]) -> None:
        if not rows:
            return
        now = timezone.now()
        item_pks = self._item_map({r.item_id for r in rows})
        missing = [r for r in rows if r.item_id not in item_pks]
        if missing:
            for r in missing:
                errors.append(RowError(r.index, "item_id", f"unknown item {r.item_id!r}: send it to "
                                       "/api/v1/items/ (or import_items) before its events"))
            rows = [r for r in rows if r.item_id in item_pks]
            if not rows:
                return
        shopper_pks = self._shopper_map({r.user_id for r in rows}, now)
        rows.sort(key=itemgetter(1))  # by event_id: one lock order for all writers
        staged = self.postgres and self._bulk
        inserted = self._copy_insert(rows, shopper_pks, item_pks, now) if staged else \
            self._insert(rows, shopper_pks, item_pks, now)
        self.counts.accepted += inserted
        if inserted == len(rows):
            return
        # Some ids were stored already. A derived id is a hash of the content: a duplicate. A sent id
        # is compared with what is stored: the same content is a duplicate, other content an error.
        # (Rows inserted just now compare equal to themselves, so they need not be told apart.)
        n_errors = 0
        sent = [r for r in rows if not r.derived_id]
        if sent:
            stored = self._stored_staged() if staged else self._stored([r.event_id for r in sent])
            merged_into = self._merged_into({r.user_id for r in sent if r.event_id in stored})
            for r in sent:
                content = stored.get(r.event_id)
                if content is not None and merged_into.get(r.user_id) == content[0]:
                    content = (r.user_id, *content[1:])  # sent before a merge moved it: the same event
                if content is None or not r.same_content(*content):
                    n_errors += 1
                    errors.append(RowError(r.index, "event_id", f"event_id {r.event_id!r} is already stored "
                                           "with different content"))
        self.counts.duplicates += len(rows) - inserted - n_errors

    @staticmethod
    def _merged_into(user_ids: set[str]) -> dict[str, str]:
        """Old id -> current user_id, for ids merged into another shopper."""
        return dict(ShopperAlias.objects.filter(alias_user_id__in=user_ids)
                    .values_list("alias_user_id", "shopper__user_id"))

    @staticmethod
    def _stored(event_ids: list[str]) -> dict[str, tuple]:
        stored = {}
        for chunk in _chunks(event_ids, 900):
            for event_id, *content in Event.objects.filter(event_id__in=chunk).values_list(
                    "event_id", "shopper__user_id", "item__item_id", "type", "value", "timestamp", "recommendation_id"):
                stored[event_id] = content
        return stored

    @staticmethod
    def _stored_staged() -> dict[str, tuple]:
        q = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT e.event_id, sh.user_id, it.item_id, e.type, e.value, e.timestamp, e.recommendation_id "
                f"FROM {_STAGING} s JOIN {q(Event._meta.db_table)} e ON e.event_id = s.event_id "
                f"LEFT JOIN {q(Shopper._meta.db_table)} sh ON sh.id = e.shopper_id "
                f"LEFT JOIN {q(Item._meta.db_table)} it ON it.id = e.item_id WHERE NOT s.derived")
            return {event_id: content for event_id, *content in cursor.fetchall()}

    def _item_map(self, item_ids: set[str]) -> dict[str, int]:
        found = self._lookup(Item._meta.db_table, "item_id", item_ids, self._item_pks)
        unknown = item_ids - found.keys()
        if unknown and self.auto_create_items:
            created = Item.objects.bulk_create(
                [Item(item_id=i, title=i) for i in sorted(unknown)], ignore_conflicts=True)
            self.counts.items_created += len(created)
            found.update(self._lookup(Item._meta.db_table, "item_id", unknown, self._item_pks))
        return found

    def _shopper_map(self, user_ids: set[str], now: datetime) -> dict[str, int]:
        found = self._lookup(Shopper._meta.db_table, "user_id", user_ids, self._shopper_pks)
        unknown = sorted(user_ids - found.keys())
        if unknown:
            table = connection.ops.quote_name(Shopper._meta.db_table)
            with connection.cursor() as cursor:
                if self.postgres:
                    cursor.execute(
                        f"INSERT INTO {table} (user_id, personalization_consent, created_at, updated_at) "
                        f"SELECT u, true, %s, %s FROM unnest({_SPLIT_IDS}) AS u ON CONFLICT (user_id) DO NOTHING",
                        [now, now, _ID_SEP.join(unknown)])
                else:
                    cursor.execute(
                        f"INSERT INTO {table} (user_id, personalization_consent, created_at, updated_at) "
                        "SELECT value, 1, %s, %s FROM json_each(%s) WHERE true ON CONFLICT (user_id) DO NOTHING",
                        [_sqlite_time(now), _sqlite_time(now), json.dumps(unknown)])
                self.counts.shoppers_created += max(cursor.rowcount, 0)
            found.update(self._lookup(Shopper._meta.db_table, "user_id", set(unknown), self._shopper_pks))
        return found

    def _lookup(self, table: str, column: str, keys: set[str], cache: dict[str, int]) -> dict[str, int]:
        found = {k: cache[k] for k in keys if k in cache}
        wanted = [k for k in keys if k not in found]
        if wanted:
            table = connection.ops.quote_name(table)
            with connection.cursor() as cursor:
                if self.postgres:
                    # FOR KEY SHARE: what an FK check would take; a delete waits for this transaction.
                    cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} = ANY({_SPLIT_IDS}) "
                                   "FOR KEY SHARE", [_ID_SEP.join(wanted)])
                else:
                    cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} IN "
                                   "(SELECT value FROM json_each(%s))", [json.dumps(wanted)])
                found.update(cursor.fetchall())
        if self._cache_ids:
            if len(cache) > _CACHE_LIMIT:
                cache.clear()
            cache.update(found)
        return found

    def _insert(self, rows: list[EventRow], shopper_pks: dict, item_pks: dict, now: datetime) -> int:
        """Insert what is new (ON CONFLICT DO NOTHING); return how many rows were inserted."""
        table = connection.ops.quote_name(Event._meta.db_table)
        columns = "event_id, shopper_id, item_id, type, value, timestamp, recommendation_id, created_at"
        with connection.cursor() as cursor:
            if self.postgres:
                # Each column travels as one delimited string that the server splits: a few µs a row of
                # client CPU, where array or per-row parameters cost several times that.
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT e, s, i, t, v, ts, coalesce(r, ''), %s FROM unnest("
                    f"{_SPLIT_IDS}, {_SPLIT}::bigint[], {_SPLIT}::bigint[], {_SPLIT}, {_SPLIT}::float8[], "
                    f"{_SPLIT}::timestamptz[], {_SPLIT_IDS}) AS x(e, s, i, t, v, ts, r) "
                    "ON CONFLICT (event_id) DO NOTHING",
                    [now, _ID_SEP.join([r.event_id for r in rows]),
                     ",".join([str(shopper_pks[r.user_id]) for r in rows]),
                     ",".join([str(item_pks[r.item_id]) for r in rows]), ",".join([r.type for r in rows]),
                     ",".join([repr(r.value) for r in rows]), ",".join([r.timestamp.isoformat() for r in rows]),
                     _ID_SEP.join([r.recommendation_id for r in rows])])
            else:  # SQLite: the IMMEDIATE transaction holds the write lock
                created = _sqlite_time(now)
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (event_id) DO NOTHING",
                    [(r.event_id, shopper_pks[r.user_id], item_pks[r.item_id], r.type, r.value,
                      _sqlite_time(r.timestamp), r.recommendation_id, created) for r in rows])
            return cursor.rowcount

    def _copy_insert(self, rows: list[EventRow], shopper_pks: dict, item_pks: dict, now: datetime) -> int:
        """PostgreSQL, large chunks: binary COPY into a staging table, then one INSERT ... SELECT.

        COPY is the cheapest way in (no per-row parameters, no SQL text to parse), and the staging
        table has no indexes; the set-based insert then pays only for the event table's own indexes.
        """
        table = connection.ops.quote_name(Event._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(  # no parameters: one round trip for both statements
                f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (event_id text, shopper_id bigint, item_id bigint, "
                "type text, value float8, timestamp timestamptz, recommendation_id text, derived boolean) "
                f"ON COMMIT DROP; TRUNCATE {_STAGING}")
            with cursor.cursor.copy(f"COPY {_STAGING} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "int8", "int8", "text", "float8", "timestamptz", "text", "bool"])
                write_row = copy.write_row
                for r in rows:
                    write_row((r.event_id, shopper_pks[r.user_id], item_pks[r.item_id], r.type, r.value,
                               r.timestamp, r.recommendation_id, r.derived_id))
            cursor.execute(
                f"INSERT INTO {table} (event_id, shopper_id, item_id, type, value, timestamp, recommendation_id, "
                f"created_at) SELECT event_id, shopper_id, item_id, type, value, timestamp, recommendation_id, %s "
                f"FROM {_STAGING} ON CONFLICT (event_id) DO NOTHING", [now])
            return cursor.rowcount


def _sqlite_time(value: datetime) -> str:
    # What Django's SQLite backend stores for an aware datetime with USE_TZ: naive UTC text.
    if value.tzinfo is UTC:  # validated rows: skip the conversion
        return str(value.replace(tzinfo=None))
    return str(value.astimezone(UTC).replace(tzinfo=None)) if value.tzinfo else str(value)


def _chunks(seq: list, size: int):
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


# --- items ---------------------------------------------------------------------------------
def items_upsert(*, payload) -> IngestCounts:
    """Validate a whole API batch of items and create or update them, or raise RowsRejected/BatchRefused."""
    check_batch(payload, limit=settings.ITEM_BATCH_LIMIT, noun="item")
    errors: list[RowError] = []
    rows = [row for i, raw in enumerate(payload) if (row := clean_item(raw, i, errors, strict_ids=True)) is not None]
    if errors:
        raise RowsRejected(errors)
    with transaction.atomic():
        return item_rows_write(rows=dedupe_items(rows))


def item_rows_write(*, rows: list[ItemRow]) -> IngestCounts:
    """Upsert unique item rows. Fields a row did not send keep their stored value on update."""
    counts = IngestCounts()
    existing: set[str] = set()
    for chunk in _chunks(sorted(r.item_id for r in rows), 900):
        existing.update(Item.objects.filter(item_id__in=chunk).values_list("item_id", flat=True))
    # One upsert per set of sent fields, so an update touches only the fields its row sent.
    groups: dict[tuple[str, ...], list[ItemRow]] = {}
    for row in sorted(rows, key=lambda r: r.item_id):  # one lock order for concurrent writers
        groups.setdefault(tuple(sorted(row.fields)), []).append(row)
    for fields, group in groups.items():
        Item.objects.bulk_create(
            [Item(item_id=r.item_id, **r.fields) for r in group],
            batch_size=500,
            update_conflicts=True,
            unique_fields=["item_id"],
            update_fields=[*fields, "updated_at"],
        )
    if any("available" in r.fields for r in rows):
        availability_changed()  # serving's per-process set of unavailable items reloads after commit
    counts.items_updated = sum(1 for r in rows if r.item_id in existing)
    counts.items_created = len(rows) - counts.items_updated
    return counts
