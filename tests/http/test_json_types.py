"""JSON bodies are held to the types the schema documents (recsys.http.serializers.JsonBodyMixin): DRF alone
would take 5 for a string, "3" for a number and 0 or "yes" for a boolean."""
from __future__ import annotations

import pytest

from recsys.models import Item, Shopper


@pytest.mark.parametrize(("route", "body", "field"), [
    ("/api/v1/recommendations/basket/", {"item_ids": ["i1"], "category": 5}, "category"),
    ("/api/v1/recommendations/basket/", {"item_ids": ["i1"], "limit": "3"}, "limit"),
    ("/api/v1/recommendations/basket/", {"item_ids": ["i1"], "raw": 0}, "raw"),
    ("/api/v1/recommendations/basket/", {"item_ids": [5]}, "item_ids"),
    ("/api/v1/recommendations/batch/", {"user_ids": ["u1"], "include_seen": "yes"}, "include_seen"),
    ("/api/v1/recommendations/batch/", {"user_ids": "u1"}, "user_ids"),
    ("/api/v1/users/u1/merge/", {"from_user_id": 7}, "from_user_id"),
    ("/api/v1/users/u1/feedback/", {"item_id": "i1", "type": "report", "comment": 3}, "comment"),
    ("/api/v1/curation/pins/", {"name": "p", "item_id": "i1", "position": "1"}, "position"),
    ("/api/v1/curation/boosts/", {"name": "b", "item_id": "i1", "strength": 0.5, "enabled": 1}, "enabled"),
    # Ids in batch rows are strings too ("sku-1", not 1); import files may still carry numbers.
    ("/api/v1/events/", [{"user_id": 42, "item_id": "i1", "type": "view"}], "user_id"),
    ("/api/v1/events/", [{"user_id": "u1", "item_id": "i1", "type": "view", "event_id": 7}], "event_id"),
    ("/api/v1/items/", [{"item_id": 1, "title": "One"}], "item_id"),
])
@pytest.mark.django_db
def test_a_value_of_the_wrong_json_type_is_400_naming_the_field(write_api, route, body, field):
    Item.objects.create(item_id="i1", title="One")
    Shopper.objects.create(user_id="u1")
    response = write_api.post(route, body, format="json")
    assert response.status_code == 400, response.content
    assert field in {e["field"] for e in response.json()["errors"]}, response.json()


@pytest.mark.django_db
def test_consent_takes_json_booleans_only(write_api):
    Shopper.objects.create(user_id="u1")
    assert write_api.patch("/api/v1/users/u1/", {"personalization_consent": 0}, format="json").status_code == 400
    response = write_api.patch("/api/v1/users/u1/", {"personalization_consent": False}, format="json")
    assert response.status_code == 200 and response.json()["personalization_consent"] is False


@pytest.mark.django_db
def test_the_right_types_still_pass(write_api):
    Item.objects.create(item_id="i1", title="One")
    response = write_api.post("/api/v1/recommendations/basket/",
                              {"item_ids": ["i1"], "limit": 3, "raw": True, "category": "c"}, format="json")
    assert response.status_code == 200, response.content
    response = write_api.post("/api/v1/curation/boosts/",
                              {"name": "b", "item_id": "i1", "strength": 1, "enabled": False}, format="json")
    assert response.status_code == 201, response.content
