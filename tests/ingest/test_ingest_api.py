"""POST /api/v1/items/, GET /api/v1/items/<id>/, POST /api/v1/events/ through the real stack."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import override_settings

from recsys.models import Event, Item, Shopper

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/items/"
EVENTS = "/api/v1/events/"


@pytest.fixture
def catalog(write_api):
    items = [{"item_id": f"sku-{i}", "title": f"Item {i}", "category": "kitchen"} for i in range(5)]
    assert write_api.post(ITEMS, items, format="json").json() == {"created": 5, "updated": 0}
    return write_api


def ev(i=0, **extra):
    row = {"user_id": f"u{i % 3}", "item_id": f"sku-{i % 5}", "type": "view",
           "timestamp": f"2025-01-01T00:00:{i % 60:02d}Z"}
    row.update(extra)
    return row


def errors_of(response):
    assert response.status_code == 400, response.content
    return [(e["index"], e["field"]) for e in response.json()["errors"]]


# --- items -----------------------------------------------------------------------------------
def test_items_upsert_counts_created_and_updated_and_keeps_unsent_fields(write_api):
    first = [{"item_id": "a", "title": "Kettle", "category": "kitchen", "price": "19.90", "url": "https://shop.example/a",
              "attributes": {"brand": "Ferro"}, "available": False}, {"item_id": "b", "title": "Mug"}]
    assert write_api.post(ITEMS, first, format="json").json() == {"created": 2, "updated": 0}
    second = [{"item_id": "a", "title": "Kettle 2"}, {"item_id": "c", "title": "Cup", "price": 3}]
    assert write_api.post(ITEMS, second, format="json").json() == {"created": 1, "updated": 1}
    a = Item.objects.get(item_id="a")
    assert (a.title, a.category, a.price, a.attributes, a.available) == (
        "Kettle 2", "kitchen", Decimal("19.90"), {"brand": "Ferro"}, False)
    assert Item.objects.get(item_id="c").price == Decimal("3.00")


def test_item_detail_read_scope_and_404(write_api, read_api):
    write_api.post(ITEMS, [{"item_id": "sku/1 x", "title": "Slash"}], format="json")
    body = read_api.get("/api/v1/items/sku/1 x/")
    assert body.status_code == 404  # a slash cannot be in a path segment: documented, not a crash
    write_api.post(ITEMS, [{"item_id": "sku 1", "title": "Space", "price": 2.5}], format="json")
    body = read_api.get("/api/v1/items/sku%201/").json()
    assert body["item_id"] == "sku 1" and body["price"] == "2.50" and body["available"] is True
    missing = read_api.get("/api/v1/items/nope/")
    assert missing.status_code == 404 and "detail" in missing.json()


def test_items_bad_batch_lists_every_bad_row_and_stores_nothing(write_api):
    batch = [{"item_id": "ok", "title": "fine"}, {"item_id": "x", "price": -2}, {"title": "no id"}]
    assert errors_of(write_api.post(ITEMS, batch, format="json")) == [(1, "title"), (1, "price"), (2, "item_id")]
    assert not Item.objects.exists()


# --- events: the good path -------------------------------------------------------------------
def test_events_are_stored_and_unknown_shoppers_created(catalog):
    batch = [ev(i) for i in range(6)] + [ev(9, type="purchase", value=2, event_id="order-1-9",
                                            recommendation_id="rec-1")]
    response = catalog.post(EVENTS, batch, format="json")
    assert response.status_code == 200
    assert response.json() == {"accepted": 7, "duplicates": 0}
    assert Event.objects.count() == 7
    assert set(Shopper.objects.values_list("user_id", flat=True)) == {"u0", "u1", "u2"}
    order = Event.objects.select_related("shopper", "item").get(event_id="order-1-9")
    assert (order.shopper.user_id, order.item.item_id, order.type, order.value, order.recommendation_id) == (
        "u0", "sku-4", "purchase", 2.0, "rec-1")
    assert order.timestamp == datetime(2025, 1, 1, 0, 0, 9, tzinfo=UTC)
    assert Shopper.objects.get(user_id="u0").personalization_consent is True


def test_resending_a_batch_stores_each_event_once(catalog):
    batch = [ev(i) for i in range(10)] + [ev(3, event_id="fixed-3")]
    assert catalog.post(EVENTS, batch, format="json").json() == {"accepted": 11, "duplicates": 0}
    assert catalog.post(EVENTS, batch, format="json").json() == {"accepted": 0, "duplicates": 11}
    # A batch mixing new and old events counts both.
    mixed = batch[:4] + [ev(i) for i in range(10, 13)]
    assert catalog.post(EVENTS, mixed, format="json").json() == {"accepted": 3, "duplicates": 4}
    assert Event.objects.count() == 14


def test_identical_rows_inside_a_batch_are_duplicates(catalog):
    batch = [ev(1), ev(1), ev(2, event_id="e2"), ev(2, event_id="e2")]
    assert catalog.post(EVENTS, batch, format="json").json() == {"accepted": 2, "duplicates": 2}


def test_events_without_timestamp_get_now_and_dedupe_on_resend(catalog):
    batch = [{"user_id": "u1", "item_id": "sku-1", "type": "click"}]
    assert catalog.post(EVENTS, batch, format="json").json() == {"accepted": 1, "duplicates": 0}
    assert catalog.post(EVENTS, batch, format="json").json() == {"accepted": 0, "duplicates": 1}
    stored = Event.objects.get()
    assert (datetime.now(UTC) - stored.timestamp).total_seconds() < 60


@override_settings(AUTO_CREATE_ITEMS=True)
def test_unknown_items_are_created_when_the_setting_allows(write_api):
    response = write_api.post(EVENTS, [ev(1, item_id="new-sku")], format="json")
    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert Item.objects.get(item_id="new-sku").title == "new-sku"


# --- events: refused batches -------------------------------------------------------------------
def test_one_bad_row_refuses_the_batch_and_lists_every_bad_row(catalog):
    batch = [ev(0), ev(1, type="like"), ev(2), ev(3, item_id="nope"), ev(4, value=1e300), ev(5),
             ev(6, timestamp="2999-01-01T00:00:00Z"), {"user_id": "u1"}]
    response = catalog.post(EVENTS, batch, format="json")
    assert errors_of(response) == [(1, "type"), (3, "item_id"), (4, "value"), (6, "timestamp"),
                                   (7, "item_id"), (7, "type")]
    messages = {e["index"]: e["message"] for e in response.json()["errors"]}
    assert "unknown item 'nope'" in messages[3]
    assert not Event.objects.exists() and not Shopper.objects.exists()


def test_same_event_id_with_different_content_is_an_error(catalog):
    assert catalog.post(EVENTS, [ev(1, event_id="e1")], format="json").status_code == 200
    clash_stored = catalog.post(EVENTS, [ev(2), ev(1, event_id="e1", type="purchase")], format="json")
    assert errors_of(clash_stored) == [(1, "event_id")]
    clash_in_batch = catalog.post(EVENTS, [ev(3, event_id="e3"), ev(4, event_id="e3")], format="json")
    assert errors_of(clash_in_batch) == [(1, "event_id")]
    assert Event.objects.count() == 1


@pytest.mark.parametrize(("body", "fragment"), [
    ('{"user_id": "u1", ', "JSON parse error"),
    ('[{"user_id": "u1", "item_id": "sku-1", "type": "view", "value": NaN}]', "JSON parse error"),
    ('{"user_id": "u1"}', "JSON list"),
    ("[]", "empty"),
    ('"events"', "JSON list"),
])
def test_malformed_or_wrong_shaped_bodies(catalog, body, fragment):
    response = catalog.post(EVENTS, body, content_type="application/json")
    assert response.status_code == 400
    assert fragment in response.json()["detail"]


@override_settings(EVENT_BATCH_LIMIT=3)
def test_batch_over_the_limit(catalog):
    response = catalog.post(EVENTS, [ev(i) for i in range(4)], format="json")
    assert response.status_code == 400 and "limit is 3" in response.json()["detail"]


def test_a_number_too_large_for_a_float_is_refused(catalog):
    body = '[{"user_id": "u1", "item_id": "sku-1", "type": "view", "value": 1e400}]'
    assert errors_of(catalog.post(EVENTS, body, content_type="application/json")) == [(0, "value")]


def test_over_long_ids_and_wrong_types(catalog):
    batch = [ev(0, user_id="u" * 129), ev(1, event_id="e" * 129), ev(2, value="3"), ev(3, item_id=7.5),
             ev(4, value=-1), ev(5, value=10**12)]
    assert errors_of(catalog.post(EVENTS, batch, format="json")) == [
        (0, "user_id"), (1, "event_id"), (2, "value"), (3, "item_id"), (4, "value"), (5, "value")]


# --- auth on these endpoints -------------------------------------------------------------------
def test_no_token_is_401_and_read_token_writing_is_403(anon_api, read_api):
    assert anon_api.post(EVENTS, [ev(0)], format="json").status_code == 401
    assert anon_api.get("/api/v1/items/sku-0/").status_code == 401
    for path in (EVENTS, ITEMS):
        response = read_api.post(path, [ev(0)], format="json")
        assert response.status_code == 403 and "write" in response.json()["detail"]
    assert not Event.objects.exists()


def test_schema_documents_the_ingestion_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()
    assert {"/api/v1/items/", "/api/v1/items/{item_id}/", "/api/v1/events/"} <= set(schema["paths"])
