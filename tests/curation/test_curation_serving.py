"""Rules created through the API shape the lists the serving API returns (same process)."""
from __future__ import annotations

import pytest

from recsys.catalog.services import items_availability_set
from recsys.models import Item

pytestmark = pytest.mark.django_db
POPULAR = "/api/v1/popular/"


@pytest.fixture(autouse=True)
def shop(small_shop):
    yield


def _list(api, **params):
    resp = api.get(POPULAR, {"limit": 5, **params})
    assert resp.status_code == 200, resp.content
    return resp.json()["items"]


def test_every_rule_kind_through_the_api(write_api):
    base = [i["item_id"] for i in _list(write_api)]
    write_api.post("/api/v1/curation/blocks/", {"item_id": base[0]}, format="json")
    write_api.post("/api/v1/curation/boosts/", {"item_id": base[4], "strength": 1.0}, format="json")
    write_api.post("/api/v1/curation/pins/", {"item_id": base[3], "position": 1}, format="json")
    note = write_api.post("/api/v1/curation/annotations/", {"item_id": base[3], "label": "Staff pick"},
                          format="json").json()
    items = _list(write_api, explain="full")
    ids = [i["item_id"] for i in items]
    assert base[0] not in ids
    assert ids[:2] == [base[3], base[4]]
    assert items[0]["source"] == "pinned" and items[1]["source"] == "boosted"
    assert items[0]["annotations"] == [{"label": "Staff pick"}]
    assert items[0]["reasons"][0] == {"type": "curated", "text": "Staff pick"}
    trace = items[0]["trace"]
    assert trace["algorithm_rank"] is not None and trace["final_rank"] == 1
    assert {r["id"] for r in trace["rules"]} >= {note["id"]}


def test_placement_scoped_rule_only_on_its_list(write_api):
    base = [i["item_id"] for i in _list(write_api)]
    write_api.post("/api/v1/curation/blocks/", {"item_id": base[0], "placement": "email"}, format="json")
    assert [i["item_id"] for i in _list(write_api)][0] == base[0]
    assert base[0] not in [i["item_id"] for i in _list(write_api, placement="email")]


def test_pin_of_an_item_that_is_not_a_candidate(write_api):
    Item.objects.create(item_id="fresh-1", title="Brand new", category="books")  # no events: not popular
    Item.objects.bulk_create([Item(item_id=f"newer-{n}", title=f"Newer {n}") for n in range(60)])  # newest refill
    assert "fresh-1" not in [i["item_id"] for i in _list(write_api, limit=20)]
    write_api.post("/api/v1/curation/pins/", {"item_id": "fresh-1", "position": 2}, format="json")
    items = _list(write_api)
    assert items[1]["item_id"] == "fresh-1" and items[1]["source"] == "pinned" and items[1]["title"] == "Brand new"


def test_pins_scoped_to_a_category_or_a_shopper_bring_items_that_are_no_candidates(write_api):
    # Serving fetches cards only for the pins of each list's own rule view: these must all arrive.
    Item.objects.create(item_id="fresh-cat", title="New in books", category="books")
    Item.objects.create(item_id="fresh-vip", title="For one shopper", category="books")
    Item.objects.bulk_create([Item(item_id=f"newer-{n}", title=f"Newer {n}") for n in range(60)])
    write_api.post("/api/v1/curation/pins/", {"item_id": "fresh-cat", "position": 1, "category": "books"},
                   format="json")
    write_api.post("/api/v1/curation/pins/", {"item_id": "fresh-vip", "position": 2,
                                              "segment": {"user_ids": ["vip-1"]}}, format="json")
    assert _list(write_api, category="books")[0]["item_id"] == "fresh-cat"
    assert "fresh-cat" not in [i["item_id"] for i in _list(write_api)]  # out of its scope
    vip = write_api.get("/api/v1/users/vip-1/recommendations/", {"limit": 5}).json()["items"]
    other = write_api.get("/api/v1/users/someone-else/recommendations/", {"limit": 5}).json()["items"]
    assert vip[1]["item_id"] == "fresh-vip" and vip[1]["title"] == "For one shopper"
    assert "fresh-vip" not in [i["item_id"] for i in other]
    # Availability is fresh (the catalog stamp), the card cached.
    items_availability_set(item_pks=[Item.objects.get(item_id="fresh-vip").pk], available=False)
    vip = write_api.get("/api/v1/users/vip-1/recommendations/", {"limit": 5}).json()["items"]
    assert "fresh-vip" not in [i["item_id"] for i in vip]
