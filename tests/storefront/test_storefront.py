"""The storefront page at / (landing vs demo mode) and the demo-scope token it hands to the browser."""
from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from recsys.models import ApiClient, Event, Item
from recsys.storefront import demo_shop as demo
from recsys.storefront.services import DEMO_CLIENT_NAME, demo_shopper_signatures, demo_token_ensure

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_shop():
    call_command("demo", "--scale", "0.05", stdout=StringIO())


def page_config(html: str) -> dict:
    match = re.search(r'<script id="storefront-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page carries its configuration"
    return json.loads(match.group(1))


@pytest.fixture
def demo_api(settings):
    settings.DEMO_MODE = True  # the demo token works only in demo mode
    Item.objects.get_or_create(item_id="demo-sku-0001", defaults={"title": "Ferro Skillet", "category": "Kitchen"})
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {demo_token_ensure()}")
    return api


def test_without_demo_data_root_is_a_landing_page(client):
    html = client.get("/").content.decode()
    assert "<h1>Curio</h1>" in html and 'href="/admin/"' in html and 'href="/api/docs/"' in html
    assert "storefront-config" not in html and demo.MERCHANDISER_PASSWORD not in html
    assert not ApiClient.objects.filter(name=DEMO_CLIENT_NAME).exists(), "no token is minted outside demo mode"


def test_demo_mode_page_has_shoppers_a_demo_token_and_the_merchandiser_login(client, demo_shop):
    response = client.get("/")
    html = response.content.decode()
    config = page_config(html)
    assert response["Cache-Control"].startswith("max-age=0")
    assert ApiClient.objects.get(name=DEMO_CLIENT_NAME).scope == ApiClient.Scope.DEMO
    assert ApiClient.objects.get(key_hash=ApiClient.hash_key(config["token"])).scope == "demo"
    assert len(config["shoppers"]) == 12 and all(s["id"].startswith(demo.USER_PREFIX) for s in config["shoppers"])
    assert all(s["taste"].startswith("Into ") and "events" in s["taste"] for s in config["shoppers"])
    assert len(config["categories"]) == 20
    # The password only where demo mode is explicit (CURIO_DEMO_MODE=1): an "auto" demo names the login only.
    assert f"<code>{demo.MERCHANDISER_USERNAME}</code>" in html and demo.MERCHANDISER_PASSWORD not in html
    with override_settings(DEMO_MODE=True):
        explicit = client.get("/").content.decode()
    assert f"<code>{demo.MERCHANDISER_USERNAME}</code> / <code>{demo.MERCHANDISER_PASSWORD}</code>" in explicit
    assert "New visitor" in html and "No model trained yet" in html
    # The same token on every load (derived, never stored in clear), so open tabs keep working.
    assert page_config(client.get("/").content.decode())["token"] == config["token"]
    assert ApiClient.objects.filter(name=DEMO_CLIENT_NAME).count() == 1


def test_demo_mode_setting_overrides_the_automatic_switch(client, demo_shop):
    with override_settings(DEMO_MODE=False):
        assert "storefront-config" not in client.get("/").content.decode()
    Event.objects.all().delete()
    with override_settings(DEMO_MODE=True):
        assert "storefront-config" in client.get("/").content.decode()


def test_a_revoked_demo_token_is_not_revived(client, demo_shop):
    client.get("/")
    ApiClient.objects.filter(name=DEMO_CLIENT_NAME).update(is_active=False)
    html = client.get("/").content.decode()
    assert page_config(html)["token"] is None and "was revoked" in html


def test_demo_token_reads_lists_and_sends_events_and_feedback_for_demo_shoppers(demo_shop, demo_api):
    item = "demo-sku-0001"
    assert demo_api.get("/api/v1/users/demo-u0001/recommendations/?limit=3").status_code == 200
    assert demo_api.get("/api/v1/popular/?limit=3").status_code == 200
    assert demo_api.get(f"/api/v1/items/{item}/").status_code == 200
    assert demo_api.get(f"/api/v1/items/{item}/similar/?user_id=demo-u0001").status_code == 200
    basket = {"item_ids": [item], "user_id": "demo-u0001", "limit": 3}
    assert demo_api.post("/api/v1/recommendations/basket/", basket, format="json").status_code == 200
    signed = demo_shopper_signatures(user_ids=["demo-visitor-1", "demo-u0001"])
    event = {"user_id": "demo-visitor-1", "item_id": item, "type": "view", "recommendation_id": "r1"}
    response = demo_api.post("/api/v1/events/", [event], format="json",
                             HTTP_CURIO_SHOPPER_SIGNATURE=signed["demo-visitor-1"])
    assert response.status_code == 200 and response.json()["accepted"] == 1
    response = demo_api.post("/api/v1/users/demo-u0001/feedback/", {"item_id": item, "type": "not_interested"},
                             format="json", HTTP_CURIO_SHOPPER_SIGNATURE=signed["demo-u0001"])
    assert response.status_code == 201


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("get", "/api/v1/users/alice/recommendations/", None),
        ("get", "/api/v1/items/demo-sku-0001/similar/?user_id=alice", None),
        ("post", "/api/v1/recommendations/basket/", {"item_ids": ["demo-sku-0001"], "user_id": "alice"}),
        ("post", "/api/v1/events/", [{"user_id": "demo-u0001", "item_id": "demo-sku-0001", "type": "view"},
                                     {"user_id": "alice", "item_id": "demo-sku-0001", "type": "view"}]),
        ("post", "/api/v1/events/", [{"item_id": "demo-sku-0001", "type": "view"}]),
        ("post", "/api/v1/events/", {"user_id": "demo-u0001", "item_id": "demo-sku-0001", "type": "view"}),
        ("post", "/api/v1/users/alice/feedback/", {"item_id": "demo-sku-0001", "type": "not_interested"}),
        ("post", "/api/v1/items/", [{"item_id": "x", "title": "Injected"}]),
        ("get", "/api/v1/users/demo-u0001/data/", None),
        ("delete", "/api/v1/users/demo-u0001/", None),
        ("patch", "/api/v1/users/demo-u0001/", {"personalization_consent": False}),
        ("post", "/api/v1/users/demo-u0001/merge/", {"from_user_id": "demo-u0002"}),
        ("post", "/api/v1/recommendations/batch/", {"user_ids": ["demo-u0001"]}),
        ("post", "/api/v1/curation/pins/", {"item_id": "demo-sku-0001", "position": 1}),
        ("get", "/api/v1/curation/pins/", None),
        ("post", "/api/v1/training-runs/", {}),
        ("get", "/api/v1/training-runs/", None),
    ],
)
def test_demo_token_cannot_do_anything_else(demo_api, method, path, body):
    response = getattr(demo_api, method)(path, body, format="json") if body is not None else \
        getattr(demo_api, method)(path)
    assert response.status_code == 403, (path, response.status_code, response.content[:200])
    assert Event.objects.filter(shopper__user_id="alice").count() == 0
