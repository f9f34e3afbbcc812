"""After a merge, a batch retried under the old (anonymous) id is a duplicate, not a clash."""
import pytest

from recsys.models import Event, ShopperAlias

pytestmark = pytest.mark.django_db

EVENT = {"user_id": "anon-2", "item_id": "sku-1", "type": "view", "event_id": "ev-anon2",
         "timestamp": "2025-05-01T10:00:00Z"}


def test_retry_after_merge_counts_duplicates_and_export_and_erasure_cover_the_alias(write_api):
    assert write_api.post("/api/v1/items/", [{"item_id": "sku-1", "title": "Mug"}], format="json").status_code == 200
    assert write_api.post("/api/v1/events/", [EVENT], format="json").json() == {"accepted": 1, "duplicates": 0}
    merged = write_api.post("/api/v1/users/login-7/merge/", {"from_user_id": "anon-2"}, format="json")
    assert merged.status_code == 200

    retry = write_api.post("/api/v1/events/", [EVENT], format="json")
    assert retry.status_code == 200, retry.content
    assert retry.json() == {"accepted": 0, "duplicates": 1}
    assert Event.objects.get(event_id="ev-anon2").shopper.user_id == "login-7"

    clash = write_api.post("/api/v1/events/", [{**EVENT, "type": "purchase"}], format="json")
    assert clash.status_code == 400 and clash.json()["errors"][0]["field"] == "event_id"

    # A second merge carries the alias along.
    write_api.post("/api/v1/users/final-9/merge/", {"from_user_id": "login-7"}, format="json")
    assert write_api.post("/api/v1/events/", [EVENT], format="json").json() == {"accepted": 0, "duplicates": 1}
    export = write_api.get("/api/v1/users/final-9/data/").json()
    assert export["merged_ids"] == ["anon-2", "login-7"]

    assert write_api.delete("/api/v1/users/final-9/").status_code == 204
    assert not ShopperAlias.objects.exists()
