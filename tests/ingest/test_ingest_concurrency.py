"""Concurrent writers: each event stored exactly once, and SQLite never says "database is locked".

Threads here use their own database connections (Django's are per thread), so the writers
really race in the database, as gunicorn workers would.
"""
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connections
from rest_framework.test import APIClient

from recsys.clients.services import api_client_create
from recsys.models import Event, Shopper

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


WRITER = """
import json, sys
from recsys.ingest.services import events_ingest
n = int(sys.argv[1])
accepted = 0
for k in range(8):
    start = (n * 8 + k) * 100  # 150 events from here: each batch overlaps the next by 50
    batch = [{"user_id": f"u{i % 37}", "item_id": f"sku-{i % 20}", "type": "view",
              "timestamp": f"2025-01-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"}
             for i in range(start, start + 150)]
    accepted += events_ingest(payload=batch).accepted
print("ACCEPTED", accepted)
"""


def test_sqlite_concurrent_writers_are_not_locked_out(tmp_path):
    """Five processes write one SQLite file at once (four API-style writers and an import),
    whatever database the suite itself runs on: no "database is locked", nothing lost."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env.update(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path}/concurrent.sqlite3")

    def manage(*args):
        return subprocess.Popen([sys.executable, "manage.py", *args], cwd=root, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    items = tmp_path / "items.csv"
    items.write_text("item_id,title,category\n" + "".join(f"sku-{i},Item {i},c\n" for i in range(20)))
    events = tmp_path / "events.csv"
    events.write_text("user_id,item_id,event_id,timestamp\n"
                      + "".join(f"imp-u{i % 50},sku-{i % 20},imp-{i},2025-02-01T00:00:00Z\n" for i in range(3000)))
    for args in (("migrate", "-v0"), ("import_items", str(items), "--no-progress")):
        assert manage(*args).wait(timeout=300) == 0
    with subprocess.Popen([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                           "print(c.execute('PRAGMA journal_mode').fetchone()[0])", f"{tmp_path}/concurrent.sqlite3"],
                          stdout=subprocess.PIPE, text=True) as probe:
        assert probe.communicate(timeout=30)[0].strip() == "wal"

    procs = [manage("shell", "-c", WRITER.replace("int(sys.argv[1])", str(n))) for n in range(4)]
    procs.append(manage("import_events", str(events), "--no-progress"))
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert "database is locked" not in out + err
    accepted = sum(int(line.split()[1]) for out, _ in outputs[:4] for line in out.splitlines()
                   if line.startswith("ACCEPTED"))
    assert accepted == 32 * 100 + 50  # 32 batches of 150 overlapping by 50: ids 0..3249, each once
    assert "3,000 stored" in outputs[4][0]
    count = manage("shell", "-c", "from recsys.models import Event; print(Event.objects.count())")
    assert int(count.communicate(timeout=120)[0].split()[-1]) == accepted + 3000
