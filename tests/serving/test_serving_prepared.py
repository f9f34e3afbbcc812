"""The serving query as a server-side prepared statement on PostgreSQL, and the switch that turns it off
(CURIO_DB_PREPARE=0, for poolers that don't keep a client's statements on one server session)."""
from __future__ import annotations

import pytest
from django.db import connection

from recsys.serving.reads import serving_reads
from tests.factories import event, items

pytestmark = pytest.mark.django_db


def prepared_serving_statements() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%UNION ALL%not_interested%"])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("prepare", [True, False])
def test_serving_reads_prepare_on_postgres_unless_switched_off(require_postgres, settings, prepare):
    settings.DB_PREPARED_STATEMENTS = prepare
    items("a", "b")
    event("u1", "a", "view", days_ago=1)
    event("u1", "b", "purchase")
    before = prepared_serving_statements()
    for _ in range(3):  # one statement however often it runs
        history = serving_reads(user_id="u1", limit=50)
        assert history.item_ids == ["b", "a"] and history.types == ["purchase", "view"]
    assert prepared_serving_statements() - before == (1 if prepare else 0)


@pytest.mark.django_db(transaction=True)
def test_a_vanished_prepared_statement_costs_one_reconnect_not_errors(require_postgres, settings, caplog):
    settings.DB_PREPARED_STATEMENTS = True
    items("a")
    event("u1", "a")
    assert serving_reads(user_id="u1", limit=50).item_ids == ["a"]
    assert prepared_serving_statements() == 1
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL or a new server session does
    before = connection.connection
    with caplog.at_level("WARNING", logger="recsys.serving.reads"):
        assert serving_reads(user_id="u1", limit=50).item_ids == ["a"]
    assert "CURIO_DB_PREPARE=0" in caplog.text and connection.connection is not before
    assert serving_reads(user_id="u1", limit=50).item_ids == ["a"]  # prepared again, on the new session
    assert prepared_serving_statements() == 1


def test_preparing_leaves_the_connection_as_django_set_it(require_postgres):
    serving_reads(user_id="nobody", limit=50)
    assert connection.connection.prepare_threshold is None  # ORM queries stay unprepared and untracked
