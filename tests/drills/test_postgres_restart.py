"""Drill: PostgreSQL stopped and started under load, behind gunicorn with 4 workers (docs/faults.md).

A PostgreSQL cluster of the drill's own (initdb + pg_ctl in a temp dir, on a free port, run as the
`postgres` user when the drill runs as root) is stopped (`pg_ctl -m fast`) while threads send list
requests and event batches, then started again; gunicorn is not restarted. Every answer is a 200 or a
503 JSON `{"detail"}` with Retry-After (never a 500 page), /healthz stays 200, every acknowledged event
is stored, the service answers 200 again after the restart, and every impression of a list served
reaches the database (the flusher's batches that failed during the outage are put back, not dropped).
"""
from __future__ import annotations

import time

import psycopg
import pytest

from tests.drills.services import Gunicorn, Load, PostgresServer, call, manage, print_figures, server_env, wait_until

pytestmark = pytest.mark.slow


def test_postgres_stopped_and_started_under_load(tmp_path, capsys):
    pg = PostgresServer()
    try:
        pg.start()
        pg.create_database()
        env = server_env(DATABASE_URL=pg.url, MODEL_DIR=str(tmp_path / "models"), CURIO_IMPRESSION_BACKGROUND_FLUSH="1",
                         PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
        manage(env, "migrate", "--noinput")
        token = manage(env, "create_api_client", "drill", "--write").strip().splitlines()[-1]
        items = [f"sku-{n}" for n in range(30)]
        users = [f"shopper-{n}" for n in range(40)]
        web = Gunicorn(env, tmp_path / "gunicorn.log")
        web.start()
        load = Load(web.url, token, users=users, items=items)
        try:
            catalog = [{"item_id": i, "title": i} for i in items]
            assert call("POST", f"{web.url}/api/v1/items/", token, catalog)[0] == 200
            load.start()
            time.sleep(2)

            pg.stop()
            stopped_at = time.monotonic()
            time.sleep(1)
            status, body, headers = call("GET", f"{web.url}/readyz")
            assert status == 503 and body["status"] == "unavailable" and body["components"]["db"]["status"] == "down"
            assert "Error" not in str(body) and "connection" not in str(body).lower()  # no exception text
            assert call("GET", f"{web.url}/healthz")[0] == 200
            time.sleep(2)

            pg.start()
            started_at = time.monotonic()
            assert wait_until(lambda: _popular_served(web.url, token, load), 30)
            recovered_at = time.monotonic()
            time.sleep(2)
        finally:
            load.stop()
            web.close()  # workers flush what they still buffer at exit

        with psycopg.connect(pg.url) as conn:
            acked = sorted(load.acked_events)
            stored = {row[0] for row in conn.execute(
                "SELECT event_id FROM recsys_event WHERE event_id = ANY(%s)", [acked])}
            impressions = conn.execute("SELECT count(*) FROM recsys_impression").fetchone()[0]
    finally:
        pg.close()

    figures = {**load.figures(), "events_stored": len(stored), "impressions_stored": impressions,
               "postgres_down_seconds": round(started_at - stopped_at, 1),
               "recovery_seconds_after_start": round(recovered_at - started_at, 1)}
    print_figures(capsys, "postgres stopped and started", figures)
    for kind in ("lists", "events"):
        assert set(load.statuses[kind]) <= {200, 503}, load.statuses
    assert load.statuses["lists"][503] + load.statuses["events"][503] > 0  # the outage was felt
    assert not load.bad_bodies, load.bad_bodies[:5]  # every 503 a JSON {"detail"} with Retry-After
    assert stored == load.acked_events
    assert impressions == load.served_items
    # The flushers did meet the outage (their batches were put back, then written).
    assert "impression flush failed" in (tmp_path / "gunicorn.log").read_text()


def _popular_served(base: str, token: str, load: Load) -> bool:
    status, body, _ = call("GET", f"{base}/api/v1/popular/", token)
    if status == 200:
        with load._lock:
            load.served_items += len(body["items"])  # its impressions are expected too
    return status == 200
