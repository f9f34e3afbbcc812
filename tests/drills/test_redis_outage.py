"""Drill: Redis killed and restarted under load, behind gunicorn with 4 workers (docs/faults.md).

The drill's own redis-server (free port, temp dir) is SIGKILLed while threads send list requests and
event batches; then restarted on the same port, without restarting gunicorn. Every list answers 200,
every acknowledged event is stored, curation writes are stored and take effect, a training run is
accepted (202) and runs, /readyz answers 200 "degraded" and then "ok" again, and every impression of a
served list reaches the database (none lost below the caps).
"""
from __future__ import annotations

import time

import pytest

from recsys.analytics.impression_buffer import write_redis_batches
from recsys.analytics.models import Impression
from recsys.catalog.models import Event
from recsys.clients.services import api_client_create
from recsys.ops import redis_state
from tests import factories
from tests.drills.services import Gunicorn, Load, RedisServer, call, print_figures, server_env, wait_until
from tests.processes import database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_redis_killed_and_restarted_under_load(tmp_path, capsys):
    items = [f"sku-{n}" for n in range(30)]
    factories.items(*items)
    users = [f"shopper-{n}" for n in range(40)]
    for n, user in enumerate(users):
        for k in range(3):
            factories.event(user, items[(n + k) % len(items)])
    _, token = api_client_create(name="drill", scope="write")
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    env = server_env(DATABASE_URL=database_url(), REDIS_URL=redis_server.url, MODEL_DIR=str(tmp_path / "models"),
                     CURIO_IMPRESSION_BACKGROUND_FLUSH="1", CURIO_REDIS_RETRY_SECONDS="1",
                     PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    web = Gunicorn(env, tmp_path / "gunicorn.log")
    load = Load(web.url, token, users=users, items=items)
    figures: dict = {}
    try:
        web.start()
        assert call("GET", f"{web.url}/readyz")[1]["status"] in ("ok",)
        load.start()
        time.sleep(2)

        redis_server.kill()
        killed_at = time.monotonic()
        ready = wait_until(lambda: _readyz(web.url, "degraded"), 10)
        assert ready and ready["components"]["redis"]["status"] == "down"
        assert ready["components"]["db"] == {"status": "ok"}
        assert "Error" not in str(ready) and "refused" not in str(ready)  # no exception text for callers
        # A curation write is stored, and lists show it (the rules stamp read from the database).
        status, pin, _ = call("POST", f"{web.url}/api/v1/curation/pins/", token,
                              {"item_id": items[-1], "position": 1, "placement": "drill"})
        assert status == 201, pin
        assert wait_until(lambda: _first_of_popular(web.url, token, load) == (items[-1], "pinned"), 10)
        # Training is accepted and runs (the broker is down: a thread of the web process runs it).
        status, run, _ = call("POST", f"{web.url}/api/v1/training-runs/", token, {})
        assert status == 202, run
        assert wait_until(lambda: call("GET", f"{web.url}/api/v1/training-runs/{run['id']}/", token)[1]
                          .get("status") not in (None, "queued"), 30)
        time.sleep(2)

        redis_server.start()
        restarted_at = time.monotonic()
        assert wait_until(lambda: _readyz(web.url, "ok"), 20)
        recovered_at = time.monotonic()
        # Rules written after the restart still reach every worker (the stamp is published again).
        assert call("DELETE", f"{web.url}/api/v1/curation/pins/{pin['id']}/", token)[0] == 204
        assert wait_until(lambda: _first_of_popular(web.url, token, load)[1] != "pinned", 10)
        time.sleep(2)
        load.stop()
        status, metrics, _ = call("GET", f"{web.url}/metrics", token)
    finally:
        load.stop()
        web.close()  # workers flush what they still buffer to Redis at exit

    try:
        client = redis_state.client(redis_server.url)
        while write_redis_batches(client, 50):  # what the Celery flush task does
            pass
    finally:
        redis_server.close()

    stored = set(Event.objects.filter(event_id__in=load.acked_events).values_list("event_id", flat=True))
    impressions = Impression.objects.count()
    figures = {**load.figures(), "events_stored": len(stored), "impressions_stored": impressions,
               "redis_down_seconds": round(restarted_at - killed_at, 1),
               "recovery_seconds_after_restart": round(recovered_at - restarted_at, 1)}
    print_figures(capsys, "redis killed and restarted", figures)
    assert set(load.statuses["lists"]) == {200}, load.statuses
    assert set(load.statuses["events"]) == {200}, load.statuses
    assert stored == load.acked_events
    assert impressions == load.served_items
    assert not load.bad_bodies, load.bad_bodies[:5]
    text = metrics.get("_text", "")
    assert status == 200 and _sample(text, "curio_redis_errors_total") > 0
    assert _sample(text, "curio_impressions_buffered_total") > 0
    assert not any(line.startswith("curio_impressions_dropped_total{") for line in text.splitlines())
    log = (tmp_path / "gunicorn.log").read_text()
    assert 1 <= log.count("WARNING curio.redis: Redis unreachable") <= 2 * web.workers  # once per outage per worker


def _sample(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "{"))


def _readyz(base: str, want: str):
    status, body, _ = call("GET", f"{base}/readyz")
    return body if status == 200 and body.get("status") == want else None


def _first_of_popular(base: str, token: str, load: Load) -> tuple[str, str] | tuple[None, None]:
    status, body, _ = call("GET", f"{base}/api/v1/popular/?limit=5&placement=drill", token)
    if status != 200 or not body.get("items"):
        return None, None
    with load._lock:
        load.served_items += len(body["items"])
    first = body["items"][0]
    return first["item_id"], first["source"]
