"""Concurrent writers: each event stored exactly once, and SQLite never says "database is locked".

Threads here use their own database connections (Django's are per thread), so the writers
really race in the database, as gunicorn workers would.
"""
import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from recsys.models import Event, Shopper
from recsys.services.clients import api_client_create

EVENTS = "/api/v1/events/"


def _batch(start: int, size: int, *, with_ids: bool = False):
    return [{"user_id": f"u{i % 37}", "item_id": f"sku-{i % 20}", "type": "view",
             "timestamp": f"2025-01-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
             **({"event_id": f"e-{i}"} if with_ids else {})}
            for i in range(start, start + size)]


def _race(jobs):
    """Run each job in its own thread, all released at once; return their results (or raise the first error)."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    failures: list = []

    def runner(n, job):
        try:
            barrier.wait()
            results[n] = job()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(n, job)) for n, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if failures:
        raise failures[0]
    return results


@pytest.fixture
def writer_key(transactional_db):
    _, key = api_client_create(name="racer", scope="write")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    items = [{"item_id": f"sku-{i}", "title": f"Item {i}"} for i in range(20)]
    assert api.post("/api/v1/items/", items, format="json").status_code == 200
    return key


def _poster(key, batch):
    def post():
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        response = api.post(EVENTS, batch, format="json")
        assert response.status_code == 200, response.content
        return response.json()
    return post


@pytest.mark.postgres
def test_two_clients_sending_the_same_batch_at_once_store_it_once(require_postgres, writer_key):
    for round_, with_ids in enumerate((False, True, False)):
        batch = _batch(round_ * 1000, 500, with_ids=with_ids)
        # The same events, in another order, from the second client: no deadlock either way.
        answers = _race([_poster(writer_key, batch), _poster(writer_key, list(reversed(batch)))])
        assert sum(a["accepted"] for a in answers) == 500
        assert sum(a["duplicates"] for a in answers) == 500
    assert Event.objects.count() == 1500
    assert Shopper.objects.count() == 37


@pytest.mark.postgres
def test_overlapping_batches_from_four_clients(require_postgres, writer_key):
    # Each client sends 400 events; neighbours share 200 of them.
    batches = [_batch(n * 200, 400, with_ids=True) for n in range(4)]
    answers = _race([_poster(writer_key, b) for b in batches])
    assert sum(a["accepted"] for a in answers) == 1000 == Event.objects.count()
    assert sum(a["duplicates"] for a in answers) == 600


def test_sqlite_concurrent_writers_are_not_locked_out(writer_key, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("exercises SQLite's WAL mode and IMMEDIATE transactions")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
    csv_path = tmp_path / "events.csv"
    csv_path.write_text("user_id,item_id,event_id,timestamp\n"
                        + "".join(f"imp-u{i % 50},sku-{i % 20},imp-{i},2025-02-01T00:00:00Z\n" for i in range(3000)))

    def importer():
        from django.core.management import call_command
        call_command("import_events", str(csv_path), "--no-progress")
        return {"accepted": 3000, "duplicates": 0}

    def many_posts(n):
        def run():
            totals = {"accepted": 0, "duplicates": 0}
            for k in range(8):
                answer = _poster(writer_key, _batch((n * 8 + k) * 100, 150))()
                totals = {key: totals[key] + answer[key] for key in totals}
            return totals
        return run

    answers = _race([many_posts(n) for n in range(4)] + [importer])
    assert sum(a["accepted"] for a in answers) == Event.objects.count()
    assert Event.objects.filter(event_id__startswith="imp-").count() == 3000
