"""The serving query as a server-side prepared statement on PostgreSQL, and the switch that turns it off
(CURIO_DB_PREPARE=0, for poolers that don't keep a client's statements on one server session)."""
from __future__ import annotations

import pytest
from django.db import connection

from recsys.selectors.shoppers import serving_reads

from .trust_helpers import event, items

pytestmark = pytest.mark.django_db


def prepared_serving_statements() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%UNION ALL%available = FALSE%"])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("prepare", [True, False])
def test_serving_reads_prepare_on_postgres_unless_switched_off(require_postgres, settings, prepare):
    settings.DB_PREPARED_STATEMENTS = prepare
    items("a", "b")
    event("u1", "a", "view", days_ago=1)
    event("u1", "b", "purchase")
    before = prepared_serving_statements()
    for _ in range(3):  # one statement however often it runs
        reads = serving_reads(user_id="u1", limit=50, unavailable_max=10)
        assert reads.history.item_ids == ["b", "a"] and reads.history.types == ["purchase", "view"]
        assert reads.unavailable == frozenset()
    assert prepared_serving_statements() - before == (1 if prepare else 0)
