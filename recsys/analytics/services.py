"""Writing impressions in bulk (called by the flusher thread or the Celery flush task)."""
from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection, transaction

from recsys.analytics.models import Impression, RuleImpression
from recsys.catalog.models import Item
from recsys.catalog.selectors import erased_since

# PostgreSQL writes go through COPY: (staging table, columns with their types in row order); the
# text column `item_id` is resolved to the item's primary key on the way in.
_IMPRESSION_COLUMNS = (("recommendation_id", "text"), ("position", "int2"), ("item_id", "text"),
                       ("source", "text"), ("rule_id", "int8"), ("placement", "text"), ("list_type", "text"),
                       ("model_version", "int4"), ("user_id", "text"), ("is_control", "bool"),
                       ("created_at", "timestamptz"))
_RULE_IMPRESSION_COLUMNS = (("rule_id", "int8"), ("arm", "text"), ("recommendation_id", "text"),
                            ("position", "int2"), ("item_id", "text"), ("user_id", "text"),
                            ("created_at", "timestamptz"))


@transaction.atomic
def impressions_write(*, rows: list[tuple]) -> int:
    """Insert rows shaped like recsys.analytics.impression_buffer.FIELDS; returns rows written.

    Items unknown by now are skipped. Rows of a shopper erased after they were served are
    dropped, so an erasure cannot be undone by impressions still in flight.
    """
    if not rows:
        return 0
    erased = erased_since({r[8] for r in rows if r[8]})
    kept = []
    arms = []  # (rule_id, arm, recommendation_id, position, item_id, user_id, created_at)
    for row in rows:
        created_at = datetime.fromtimestamp(float(row[10]), tz=UTC)
        if row[8] in erased and created_at <= erased[row[8]]:
            continue
        kept.append((*row[:10], created_at))
        # Rows buffered by an older process have no rule columns.
        for arm, rule_ids in ((RuleImpression.Arm.EXPOSED, row[11] if len(row) > 11 else ()),
                              (RuleImpression.Arm.HOLDOUT, row[12] if len(row) > 12 else ())):
            arms.extend((int(rule_id), arm, row[0], row[1], row[2], row[8], created_at) for rule_id in rule_ids or ())
    if connection.vendor == "postgresql":
        if arms:
            _copy_insert(RuleImpression, "curio_rule_impression_staging", _RULE_IMPRESSION_COLUMNS, arms)
        return _copy_insert(Impression, "curio_impression_staging", _IMPRESSION_COLUMNS, kept)
    if arms:
        _executemany_insert(RuleImpression, _RULE_IMPRESSION_COLUMNS, arms)
    return _executemany_insert(Impression, _IMPRESSION_COLUMNS, kept)


def _copy_insert(model, staging: str, columns: tuple[tuple[str, str], ...], rows: list[tuple]) -> int:
    """PostgreSQL: binary COPY into a staging table, then one INSERT ... SELECT that resolves item
    ids (skipping unknown items). Serving hands over ~10 rows per list, so the ORM's per-object work
    was most of a list request's CPU; this is about a tenth of it.

    The staging table lives as long as the connection (created once, emptied per call), and the
    catalog is probed by index for the batch's distinct items: joined plainly, PostgreSQL hashed the
    whole catalog on every flush (it has no statistics for the staging table).
    """
    table, item_table = (connection.ops.quote_name(m._meta.db_table) for m in (model, Item))
    names = [name for name, _ in columns if name != "item_id"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ({', '.join(f'{n} {t}' for n, t in columns)}) "
            f"ON COMMIT DELETE ROWS; DELETE FROM {staging}")
        with cursor.cursor.copy(f"COPY {staging} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([t for _, t in columns])
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"WITH i AS (SELECT id, item_id FROM {item_table} "
            f"WHERE item_id = ANY(ARRAY(SELECT DISTINCT item_id FROM {staging})) FOR KEY SHARE) "
            f"INSERT INTO {table} ({', '.join(names)}, item_id) SELECT {', '.join('s.' + n for n in names)}, i.id "
            f"FROM {staging} s JOIN i ON i.item_id = s.item_id")
        return cursor.rowcount


def _executemany_insert(model, columns: tuple[tuple[str, str], ...], rows: list[tuple]) -> int:
    """SQLite (the embedded default, where each web process writes its own impressions in a thread): one
    INSERT ... SELECT per row run by sqlite3's executemany, the item id resolved (and unknown items skipped) by
    the statement. Through the ORM the flush built a model object per row: a burst of pure Python in the web
    process whose GIL hand-offs stalled its request thread (personal lists' p99 near 1 s under load)."""
    table, item_table = (connection.ops.quote_name(m._meta.db_table) for m in (model, Item))
    names = [name for name, _ in columns if name != "item_id"]
    at = [n for n, (name, _) in enumerate(columns) if name == "created_at"][0]
    item = [n for n, (name, _) in enumerate(columns) if name == "item_id"][0]
    adapt = connection.ops.adapt_datetimefield_value
    params = [tuple(adapt(v) if n == at else v for n, v in enumerate(row) if n != item) + (row[item],)
              for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(names)}, item_id) SELECT {', '.join(['%s'] * len(names))}, i.id "
            f"FROM {item_table} i WHERE i.item_id = %s", params)
        return max(cursor.rowcount, 0)
