"""Faults in process: Redis unreachable (a closed port: connection refused, a real fault), the circuit,
readiness, /metrics and its scope. The drills in tests/drills/ cause the
same faults to real servers under load."""
from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import cache

from curation.live_rules import current_rules, invalidate
from recsys.ops.redis_state import circuit
from tests import factories
from tests.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings):
    """REDIS_URL names a port nobody listens on: every connection is refused."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = url
    settings.CACHES = {"default": {"BACKEND": "recsys.ops.cache.ResilientRedisCache", "LOCATION": url,
                                   "KEY_PREFIX": "curio", "OPTIONS": {"socket_connect_timeout": 0.25}}}
    settings.REDIS_RETRY_SECONDS = 30.0
    circuit.reset()
    invalidate()
    yield url
    circuit.reset()
    invalidate()


def test_with_redis_down_lists_writes_and_the_throttle_go_on(redis_down, write_api, settings, caplog):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": "2/min", "demo": None}}
    factories.items("a", "b", "c")
    events = [{"user_id": "u1", "item_id": i, "type": "view"} for i in ("a", "b")]
    with caplog.at_level(logging.WARNING):
        for _ in range(4):  # over the 2/min rate: the throttle fails open without its shared counter
            assert write_api.get("/api/v1/popular/").status_code == 200
        assert write_api.post("/api/v1/events/", events, format="json").json() == {"accepted": 2, "duplicates": 0}
        assert write_api.get("/api/v1/users/u1/recommendations/").status_code == 200
        pin = write_api.post("/api/v1/curation/pins/", {"item_id": "c", "position": 1}, format="json")
        assert pin.status_code == 201
        time.sleep(1.05)  # the rules stamp comes from the database, at most once a second
        assert write_api.get("/api/v1/popular/").json()["items"][0] == {**write_api.get(
            "/api/v1/popular/").json()["items"][0], "item_id": "c", "source": "pinned"}
    assert circuit.down
    assert sum(r.getMessage().startswith("Redis unreachable") for r in caplog.records) == 1  # once, not per request
    assert sum("throttle off" in r.getMessage() for r in caplog.records) == 1


def test_the_circuit_skips_redis_until_the_retry_interval(redis_down, settings):
    assert cache.get("anything") is None  # refused: the circuit opens
    assert circuit.down and not circuit.available()
    started = time.perf_counter()
    for _ in range(1000):
        assert cache.get("anything") is None and cache.set("k", 1) is None
    assert time.perf_counter() - started < 1.0  # no connection attempt while open (1000 tries would take far longer)
    circuit.open_until = time.monotonic() - 1  # the interval has passed: one probe goes through
    assert circuit.available() and not circuit.available()


def test_readyz_is_degraded_with_redis_down_and_shows_no_exception_text(redis_down, client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["components"]["db"] == {"status": "ok"} and body["components"]["redis"]["status"] == "down"
    assert "Error" not in response.content.decode() and "refused" not in response.content.decode()


def test_readyz_is_degraded_when_the_active_artifact_cannot_be_loaded(client, settings, tmp_path):
    settings.MODEL_DIR = tmp_path
    factories.stored_version(tmp_path, 7, ["u1"], ["a"], active=True)
    (tmp_path / "7" / "item_ids.npy").write_bytes(b"damaged")  # the active version's files are unreadable
    body = client.get("/readyz").json()
    assert body["status"] == "degraded" and body["components"]["model"]["status"] == "degraded"


def test_rules_stamp_is_published_again_when_redis_returns(redis_url, settings, write_api):
    settings.REDIS_URL = redis_url
    settings.CACHES = {"default": {"BACKEND": "recsys.ops.cache.ResilientRedisCache", "LOCATION": redis_url,
                                   "KEY_PREFIX": "curio"}}
    circuit.reset()
    invalidate()
    factories.items("a", "b")
    current_rules()
    from curation.live_rules import STAMP_KEY

    stale = cache.get(STAMP_KEY)
    circuit.failed(ConnectionError("drill"))  # what a refused call does; the rules change meanwhile
    assert write_api.post("/api/v1/curation/pins/", {"item_id": "a", "position": 1}, format="json").status_code == 201
    cache.set(STAMP_KEY, stale)  # skipped: Redis is "down" for this process
    circuit.succeeded()
    invalidate()
    current_rules()
    assert cache.get(STAMP_KEY) > stale
    circuit.reset()


def test_metrics_need_a_write_token_and_count_lists(client, read_api, write_api):
    factories.items("a")
    assert client.get("/metrics").status_code == 401
    assert read_api.get("/metrics").status_code == 403
    write_api.get("/api/v1/popular/")
    response = write_api.get("/metrics")
    text = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert 'curio_lists_served_total{endpoint="popular",source="popular"}' in text
    for name in ("curio_list_latency_seconds_bucket", "curio_events_stored_total", "curio_impressions_buffered_total",
                 "curio_impressions_flushed_total", "curio_impressions_dropped_total", "curio_redis_errors_total",
                 "curio_db_errors_total", "curio_erasures_pending", "curio_training_runs_total",
                 "curio_training_duration_seconds"):
        assert name in text, name
