"""Per-request overhead: the per-process token cache (CURIO_TOKEN_CACHE_SECONDS, bounded revocation
delay) and the client throttle's budget per window, on LocMem and on Redis (its lease script)."""
from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from recsys.clients import auth
from recsys.clients.auth import ClientRateThrottle
from recsys.clients.services import api_client_create
from recsys.models import ApiClient, Item

ITEM = "/api/v1/items/sku-1/"


@pytest.fixture
def item(db):
    auth.token_cache_clear()
    Item.objects.create(item_id="sku-1", title="One")
    yield
    auth.token_cache_clear()


def api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def token_queries(client: APIClient) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(ITEM).status_code == 200
    return sum("recsys_apiclient" in q["sql"] for q in queries.captured_queries)


def test_a_token_is_looked_up_once_per_ttl(item, settings):
    settings.TOKEN_CACHE_SECONDS = 60
    _, key = api_client_create(name="cached", scope="read")
    client = api(key)
    assert token_queries(client) >= 1
    assert token_queries(client) == 0
    assert token_queries(client) == 0


def test_zero_ttl_looks_up_every_request(item, settings):
    settings.TOKEN_CACHE_SECONDS = 0
    _, key = api_client_create(name="uncached", scope="read")
    client = api(key)
    assert token_queries(client) >= 1
    assert token_queries(client) >= 1


def test_a_revoked_token_stops_working_after_the_ttl(item, settings):
    settings.TOKEN_CACHE_SECONDS = 0.5
    client_row, key = api_client_create(name="revoked-later", scope="read")
    client = api(key)
    assert client.get(ITEM).status_code == 200
    # Revoked behind this process's back (another process, or SQL): the cached entry still answers...
    ApiClient.objects.filter(pk=client_row.pk).update(is_active=False)
    assert client.get(ITEM).status_code == 200
    time.sleep(0.6)
    # ...until it expires.
    response = client.get(ITEM)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_revoking_in_the_admin_takes_effect_at_once_in_that_process(item, settings, admin_client):
    settings.TOKEN_CACHE_SECONDS = 60
    client_row, key = api_client_create(name="revoked-now", scope="write")
    client = api(key)
    assert client.get(ITEM).status_code == 200
    response = admin_client.post("/admin/recsys/apiclient/", {"action": "revoke", "_selected_action": [client_row.pk]})
    assert response.status_code == 302
    assert client.get(ITEM).status_code == 401


def test_invalid_tokens_are_never_cached(item, settings):
    settings.TOKEN_CACHE_SECONDS = 60
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert api("not-a-token").get(ITEM).status_code == 401
        assert any("recsys_apiclient" in q["sql"] for q in queries.captured_queries)


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def statuses(client: APIClient, n: int) -> list[int]:
    return [client.get(ITEM).status_code for _ in range(n)]


def check_window_budget(monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "5/min"})
    clock = Clock(1_000_000 * 60 + 30.0)  # half way through a minute window
    monkeypatch.setattr(ClientRateThrottle, "timer", clock)
    _, key = api_client_create(name=f"busy-{time.time_ns()}", scope="read")
    client = api(key)
    assert statuses(client, 6) == [200] * 5 + [429]
    assert 29 <= float(client.get(ITEM)["Retry-After"]) <= 31
    # The next window has its own budget of 5 (a fixed window: leased slices of it are spent locally).
    clock.t += 60
    assert statuses(client, 6) == [200] * 5 + [429]
    clock.t += 120
    assert statuses(client, 6) == [200] * 5 + [429]
    # Another client has its own budget.
    _, other = api_client_create(name=f"calm-{time.time_ns()}", scope="read")
    assert api(other).get(ITEM).status_code == 200


def test_throttle_is_a_budget_per_window_per_client(item, monkeypatch):
    cache.clear()
    check_window_budget(monkeypatch)


def test_throttle_with_redis(item, monkeypatch, redis_url, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url,
                                   "KEY_PREFIX": "curio-test"}}
    check_window_budget(monkeypatch)
