"""Tokens: scope, hashing, revocation (admin), throttling per client, CORS for browser frontends."""
import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from recsys.clients.auth import ClientRateThrottle
from recsys.clients.services import api_client_create
from recsys.models import ApiClient

pytestmark = pytest.mark.django_db

ITEM = "/api/v1/items/sku-1/"


@pytest.fixture
def item(write_api):
    write_api.post("/api/v1/items/", [{"item_id": "sku-1", "title": "Kettle"}], format="json")


def with_token(key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_tokens_are_stored_hashed_and_work_for_their_scope(item):
    client, key = api_client_create(name="reader", scope="read")
    assert client.key_hash == ApiClient.hash_key(key) and key not in client.key_hash and client.key_prefix == key[:8]
    api = with_token(key)
    assert api.get(ITEM).status_code == 200
    assert api.post("/api/v1/items/", [{"item_id": "x", "title": "X"}], format="json").status_code == 403
    assert ApiClient.objects.get(pk=client.pk).last_used_at is not None


@pytest.mark.parametrize("header", ["Token nope", "Token", "Token a b", "Bearer abc", ""])
def test_bad_or_missing_tokens_are_401(item, header):
    api = APIClient()
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get(ITEM)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_revoked_token_is_refused(item, admin_client):
    client, key = api_client_create(name="old-shop", scope="write")
    assert with_token(key).get(ITEM).status_code == 200
    response = admin_client.post("/admin/recsys/apiclient/", {"action": "revoke", "_selected_action": [client.pk]})
    assert response.status_code == 302
    assert with_token(key).get(ITEM).status_code == 401


def test_admin_lists_clients_and_creates_a_token_shown_once(admin_client):
    api_client_create(name="storefront", scope="read")
    page = admin_client.get("/admin/recsys/apiclient/")
    assert page.status_code == 200 and b"storefront" in page.content
    response = admin_client.post("/admin/recsys/apiclient/add/", {"name": "mobile", "scope": "write"}, follow=True)
    assert response.status_code == 200
    message = next(str(m) for m in response.context["messages"] if "shown once" in str(m))
    key = message.rsplit(": ", 1)[1]
    created = ApiClient.objects.get(name="mobile")
    assert created.scope == "write" and created.key_hash == ApiClient.hash_key(key)


def test_throttled_per_client(item, monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "3/min"})
    cache.clear()  # earlier tests' requests (client ids are reused after rollbacks)
    _, first = api_client_create(name="busy", scope="read")
    _, second = api_client_create(name="calm", scope="read")
    busy = with_token(first)
    assert [busy.get(ITEM).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert with_token(second).get(ITEM).status_code == 200  # another client has its own budget


@override_settings(CORS_ALLOWED_ORIGINS=["https://shop.example"])
def test_cors_allows_configured_origins_only(client):
    allowed = client.options(ITEM, HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert allowed["access-control-allow-origin"] == "https://shop.example"
    assert "authorization" in allowed["access-control-allow-headers"]
    other = client.options(ITEM, HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert "access-control-allow-origin" not in other
