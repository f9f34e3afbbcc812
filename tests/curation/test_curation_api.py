"""The curation REST API: CRUD per rule kind, scopes, validation 400s, audit of API clients."""
from __future__ import annotations

import pytest

from curation import live_rules
from curation.models import Rule
from recsys.models import Item

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def items(db):
    live_rules.invalidate()
    return [Item.objects.create(item_id=f"sku-{n}", title=f"Item {n}") for n in range(1, 4)]


def test_create_pin_answers_201_with_the_rule_and_its_id(write_api):
    resp = write_api.post("/api/v1/curation/pins/", {"item_id": "sku-1", "position": 2, "placement": "home",
                                                     "reason": "launch"}, format="json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["id"] == Rule.objects.get().pk
    assert body["item_id"] == "sku-1" and body["position"] == 2 and body["placement"] == "home"
    assert body["kind"] == "pin" and body["status"] == "active" and body["segment"] is None
    assert body["created_by"] == "api:test-writer"
    assert "strength" not in body
    # The serving cache sees it on the next request.
    assert [r.item_id for r in live_rules.current_rules()] == ["sku-1"]


def test_each_kind_lives_at_its_own_path(write_api):
    cases = {
        "blocks": {"item_attribute": {"brand": "Acme"}, "segment": "new"},
        "boosts": {"item_category": "shoes", "strength": -0.5, "segment": {"user_ids": ["u1", "u2"]}},
        "annotations": {"item_id": "sku-2", "label": "Staff pick", "note": "margin"},
    }
    for path, body in cases.items():
        resp = write_api.post(f"/api/v1/curation/{path}/", body, format="json")
        assert resp.status_code == 201, (path, resp.content)
    assert write_api.get("/api/v1/curation/boosts/").json()["results"][0]["segment"] == {"user_ids": ["u1", "u2"]}
    assert [r["kind"] for r in write_api.get("/api/v1/curation/blocks/").json()["results"]] == ["block"]
    block_id = write_api.get("/api/v1/curation/blocks/").json()["results"][0]["id"]
    assert write_api.get(f"/api/v1/curation/pins/{block_id}/").status_code == 404  # not a pin


def test_read_update_delete_and_audit(write_api):
    rule_id = write_api.post("/api/v1/curation/boosts/", {"item_id": "sku-1", "strength": 0.5},
                             format="json").json()["id"]
    resp = write_api.patch(f"/api/v1/curation/boosts/{rule_id}/", {"strength": 0.9, "enabled": False}, format="json")
    assert resp.status_code == 200 and resp.json()["strength"] == 0.9 and resp.json()["status"] == "disabled"
    assert write_api.get(f"/api/v1/curation/boosts/{rule_id}/").json()["strength"] == 0.9
    assert write_api.delete(f"/api/v1/curation/boosts/{rule_id}/").status_code == 204
    assert write_api.get(f"/api/v1/curation/boosts/{rule_id}/").status_code == 404
    history = list(Rule.history.filter(id=rule_id).order_by("history_date"))
    assert [(h.history_type, h.updated_by) for h in history] == [
        ("+", "api:test-writer"), ("~", "api:test-writer"), ("-", "api:test-writer")]
    assert history[1].strength == 0.9 and history[0].strength == 0.5


@pytest.mark.parametrize("path,body,field", [
    ("pins", {"item_id": "sku-1", "position": 0}, "position"),
    ("pins", {"item_id": "sku-1", "position": -3}, "position"),
    ("boosts", {"item_id": "sku-1", "strength": 1.01}, "strength"),
    ("boosts", {"item_id": "sku-1", "strength": -2}, "strength"),
    ("blocks", {"item_id": "sku-1", "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"},
     "ends_at"),
    ("pins", {"item_id": "no-such-sku", "position": 1}, "item_id"),
    ("blocks", {"placement": "home"}, "item_id"),
    ("annotations", {"item_id": "sku-1"}, "label"),
    ("blocks", {"item_id": "sku-1", "segment": "vip"}, "segment"),
    ("blocks", {"item_id": "sku-1", "context_item_id": "nope"}, "context_item_id"),
])
def test_validation_errors_are_400_and_name_the_field(write_api, path, body, field):
    resp = write_api.post(f"/api/v1/curation/{path}/", body, format="json")
    assert resp.status_code == 400, resp.content
    errors = resp.json()["errors"]
    assert field in [e["field"] for e in errors], errors
    assert all(e["message"] for e in errors)
    assert not Rule.objects.exists()


def test_unknown_item_message_is_actionable(write_api):
    resp = write_api.post("/api/v1/curation/pins/", {"item_id": "no-such-sku", "position": 1}, format="json")
    assert "Unknown item 'no-such-sku'" in resp.json()["errors"][0]["message"]


def test_scopes(read_api, anon_api, write_api):
    assert anon_api.get("/api/v1/curation/pins/").status_code == 401
    assert read_api.get("/api/v1/curation/pins/").status_code == 200
    assert read_api.post("/api/v1/curation/pins/", {"item_id": "sku-1", "position": 1},
                         format="json").status_code == 403
    rule_id = write_api.post("/api/v1/curation/pins/", {"item_id": "sku-1", "position": 1}, format="json").json()["id"]
    assert read_api.delete(f"/api/v1/curation/pins/{rule_id}/").status_code == 403
    assert read_api.patch(f"/api/v1/curation/pins/{rule_id}/", {"position": 2}, format="json").status_code == 403
    assert Rule.objects.get().position == 1


def test_segment_null_means_everyone_on_create_and_update(write_api):
    from recsys.models import Item

    Item.objects.create(item_id="seg-1", title="t")
    created = write_api.post("/api/v1/curation/pins/", {"item_id": "seg-1", "position": 1,
                                                         "segment": {"user_ids": ["u1"]}}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["segment"] == {"user_ids": ["u1"]}
    cleared = write_api.patch(f"/api/v1/curation/pins/{created.json()['id']}/", {"segment": None}, format="json")
    assert cleared.status_code == 200, cleared.content
    assert cleared.json()["segment"] is None


def test_placement_must_be_a_slug_and_unknown_fields_are_refused(write_api):
    from recsys.models import Item

    Item.objects.create(item_id="slug-1", title="t")
    bad = write_api.post("/api/v1/curation/pins/", {"item_id": "slug-1", "position": 1, "placement": "Home Page!"},
                         format="json")
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["placement"]
    extra = write_api.post("/api/v1/curation/pins/", {"item_id": "slug-1", "position": 1, "strength": 0.5},
                           format="json")
    assert extra.status_code == 400
    assert extra.json()["errors"][0]["field"] == "strength"
    assert "no field" in extra.json()["errors"][0]["message"]


def test_read_tokens_do_not_see_note_reason_or_segment_user_ids(write_api, read_api):
    created = write_api.post("/api/v1/curation/annotations/", {
        "item_id": "sku-1", "label": "Staff pick", "note": "supplier pays us", "reason": "Q3 deal",
        "segment": {"user_ids": ["vip-1", "vip-2"]}}, format="json")
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["note"] == "supplier pays us" and rule["reason"] == "Q3 deal"
    assert rule["segment"] == {"user_ids": ["vip-1", "vip-2"]}
    path = f"/api/v1/curation/annotations/{rule['id']}/"
    for seen in (read_api.get(path).json(), read_api.get("/api/v1/curation/annotations/").json()["results"][0]):
        assert "note" not in seen and "reason" not in seen
        assert seen["segment"] == {"user_count": 2} and "vip-1" not in str(seen)
        assert seen["label"] == "Staff pick" and seen["item_id"] == "sku-1"
    assert write_api.get(path).json()["note"] == "supplier pays us"


def test_segments_hold_at_most_10000_user_ids(write_api):
    ids = [f"u{n}" for n in range(10_001)]
    resp = write_api.post("/api/v1/curation/blocks/", {"item_id": "sku-1", "segment": {"user_ids": ids}},
                          format="json")
    assert resp.status_code == 400
    error = resp.json()["errors"][0]
    assert error["field"] == "segment" and "at most 10,000" in error["message"]
    ok = write_api.post("/api/v1/curation/blocks/", {"item_id": "sku-1", "segment": {"user_ids": ids[:10_000]}},
                        format="json")
    assert ok.status_code == 201, ok.content


def test_rule_lists_are_paginated_with_limit_and_offset(write_api, read_api):
    for n in range(5):
        assert write_api.post("/api/v1/curation/blocks/", {"item_id": "sku-1", "priority": n},
                              format="json").status_code == 201
    page = read_api.get("/api/v1/curation/blocks/", {"limit": 2, "offset": 1}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 5 and len(page["results"]) == 2
    assert "limit=2" in page["next"] and "offset=3" in page["next"] and page["previous"]
    assert [r["priority"] for r in page["results"]] == [3, 2]  # highest priority first, as before
    whole = read_api.get("/api/v1/curation/blocks/").json()
    assert whole["count"] == 5 and len(whole["results"]) == 5 and whole["next"] is None
    assert read_api.get("/api/v1/curation/blocks/", {"limit": 5000}).json()["results"]  # capped at 1,000
    from curation.api import RulePagination
    assert (RulePagination.default_limit, RulePagination.max_limit) == (100, 1000)
