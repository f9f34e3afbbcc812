"""Diversity rules and per-rule holdouts through the real list API, impressions and the impact figures."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from curation.rules import in_holdout
from curation.services import rule_create
from recsys.analytics import impression_buffer
from recsys.analytics.models import RuleImpression
from recsys.analytics.selectors import rule_impacts_measured
from recsys.models import Event, Item, Shopper

pytestmark = pytest.mark.django_db
POPULAR = "/api/v1/popular/"


@pytest.fixture(autouse=True)
def shop(small_shop, settings):
    settings.CURATION_RULES_CHECK_SECONDS = 0
    impression_buffer.buffer().drain(10**6)
    yield
    impression_buffer.buffer().drain(10**6)


def _popular(api, **params) -> list[dict]:
    resp = api.get(POPULAR, {"limit": 9, **params})
    assert resp.status_code == 200, resp.content
    return resp.json()["items"]


def _categories(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i["category"]] = out.get(i["category"], 0) + 1
    return out


def test_a_diversity_rule_caps_every_list_and_the_trace_says_what_moved(read_api, write_api):
    assert max(_categories(_popular(read_api)).values()) > 2
    rule = rule_create(kind="diversity", data={"max_per_category": 2}, actor="test")
    items = _popular(write_api, explain="full")
    assert len(items) <= 6 and max(_categories(items).values()) <= 2  # three categories x 2
    assert any(any(r["id"] == rule.pk for r in i["trace"]["rules"]) for i in items)  # "moved up"
    personal = read_api.get("/api/v1/users/books-fan-0/recommendations/", {"limit": 9}).json()["items"]
    assert max(_categories(personal).values()) <= 2
    similar = read_api.get("/api/v1/items/books-1/similar/", {"limit": 9}).json()["items"]
    assert max(_categories(similar).values(), default=0) <= 2
    basket = read_api.post("/api/v1/recommendations/basket/", {"item_ids": ["books-1"], "limit": 9},
                           format="json").json()["items"]
    assert max(_categories(basket).values(), default=0) <= 2
    batch = read_api.post("/api/v1/recommendations/batch/", {"user_ids": ["games-fan-0"], "limit": 9},
                          format="json").json()["results"][0]["items"]
    assert max(_categories(batch).values(), default=0) <= 2


def test_a_pin_with_a_holdout_is_measured_against_what_was_shown_instead(read_api, settings):
    top = _popular(read_api)
    pinned = next(i["item_id"] for i in reversed(top))
    rule = rule_create(kind="pin", data={"item_id": pinned, "position": 1, "holdout_share": 0.5}, actor="test")
    shoppers = [s.user_id for s in Shopper.objects.all()]
    held = [u for u in shoppers if in_holdout(rule.pk, u, 0.5)]
    exposed = [u for u in shoppers if u not in held]
    assert held and exposed
    for user in shoppers:
        items = read_api.get(f"/api/v1/users/{user}/recommendations/", {"limit": 5}).json()["items"]
        assert (items[0]["item_id"] == pinned) == (user in exposed), user
    impression_buffer.buffer().flush()
    arms = RuleImpression.objects.filter(rule_id=rule.pk)
    assert arms.filter(arm="exposed").count() == len(exposed)
    assert arms.filter(arm="holdout").count() == len(held)
    assert set(arms.values_list("position", flat=True)) == {1}
    assert not arms.filter(arm="exposed").exclude(item__item_id=pinned).exists()
    # A held-out shopper clicks what was shown instead: it counts for the holdout arm.
    row = arms.filter(arm="holdout").select_related("item").first()
    Event.objects.create(event_id="click-1", shopper=Shopper.objects.get(user_id=row.user_id), item=row.item,
                         type="click", timestamp=row.created_at, recommendation_id=row.recommendation_id)
    impact = rule_impacts_measured()[rule.pk]
    assert (impact.exposed.impressions, impact.holdout.impressions) == (len(exposed), len(held))
    assert impact.holdout.clicks == 1 and impact.exposed.clicks == 0
    assert impact.verdict == "unknown" and impact.needed_impressions > len(shoppers)  # far from the plan


def test_blocks_and_diversity_apply_to_the_global_control_too(read_api, settings):
    settings.CONTROL_SHARE = 1.0  # everyone is control traffic: no pins, boosts or labels
    top = _popular(read_api)
    rule_create(kind="block", data={"item_id": top[0]["item_id"]}, actor="test")
    rule_create(kind="diversity", data={"max_per_category": 1}, actor="test")
    rule_create(kind="pin", data={"item_id": top[-1]["item_id"], "position": 1}, actor="test")
    items = _popular(read_api)
    assert top[0]["item_id"] not in [i["item_id"] for i in items]
    assert max(_categories(items).values()) == 1 and items[0]["source"] != "pinned"


def test_the_admin_shows_the_measured_column_and_the_report_its_rows(admin_client, read_api):
    item = Item.objects.order_by("item_id").first()
    rule = rule_create(kind="boost", data={"item_id": item.item_id, "strength": 1.0, "holdout_share": 0.3},
                       actor="test")
    rule_create(kind="diversity", data={"max_per_attribute": {"brand": 2}}, actor="test")
    for s in Shopper.objects.all():
        read_api.get(f"/api/v1/users/{s.user_id}/recommendations/", {"limit": 5})
    impression_buffer.buffer().flush()
    page = admin_client.get("/admin/curation/rule/").content.decode()
    assert "measured" in page and "shown per arm" in page and "at most 2 per brand" in page
    report = admin_client.get("/admin/recsys/impression/").content.decode()
    assert "Each rule against its own holdout" in report and f"#{rule.pk}" in report
    rows = list(csv.reader(io.StringIO(admin_client.get("/admin/recsys/impression/?format=csv").content.decode())))
    holdout_rows = [r for r in rows if r and r[0] == "rule_holdout"]
    assert len(holdout_rows) == 1 and holdout_rows[0][2] == "unknown"
    assert int(holdout_rows[0][4]) + int(holdout_rows[0][9]) == RuleImpression.objects.filter(rule_id=rule.pk).count()


def test_new_rules_take_the_deployment_default_holdout(settings):
    settings.RULE_HOLDOUT_SHARE = 0.2
    item = Item.objects.first()
    assert rule_create(kind="pin", data={"item_id": item.item_id, "position": 1}, actor="t").holdout_share == 0.2
    assert rule_create(kind="block", data={"item_id": item.item_id}, actor="t").holdout_share == 0.0
    assert rule_create(kind="pin", data={"item_id": item.item_id, "position": 2, "holdout_share": 0.0},
                       actor="t").holdout_share == 0.0


# --- the API -------------------------------------------------------------------------------
DIVERSITY = "/api/v1/curation/diversity/"


def test_diversity_rules_through_the_api_with_clear_errors(write_api, read_api):
    made = write_api.post(DIVERSITY, {"max_per_category": 2, "placement": "home"}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["kind"] == "diversity" and body["max_per_category"] == 2 and "holdout_share" not in body
    assert max(_categories(_popular(read_api, placement="home")).values()) <= 2
    for bad, field in (({"max_per_category": 0}, "max_per_category"), ({}, "max_per_category"),
                       ({"max_per_attribute": {"brand": 0}}, "max_per_attribute"),
                       ({"max_per_category": 2, "item_id": "books-1"}, "item_id"),
                       ({"max_per_category": 2, "holdout_share": 0.1}, "holdout_share")):
        resp = write_api.post(DIVERSITY, bad, format="json")
        assert resp.status_code == 400, (bad, resp.content)
        answer = resp.json()
        assert answer["detail"] and field in {e["field"] for e in answer["errors"]}, (bad, answer)
    patched = write_api.patch(f"{DIVERSITY}{body['id']}/", {"max_per_attribute": {"brand": 3}}, format="json")
    assert patched.status_code == 200 and patched.json()["max_per_attribute"] == {"brand": 3}
    assert read_api.post(DIVERSITY, {"max_per_category": 2}, format="json").status_code == 403


def test_holdout_share_is_a_number_from_0_to_half(write_api, settings):
    settings.RULE_HOLDOUT_SHARE = 0.1
    base = {"item_id": "books-1", "position": 1}
    for bad in (0.7, -0.1, "0.2", True):
        resp = write_api.post("/api/v1/curation/pins/", {**base, "holdout_share": bad}, format="json")
        assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "holdout_share", resp.content
    made = write_api.post("/api/v1/curation/pins/", base, format="json").json()
    assert made["holdout_share"] == 0.1  # the deployment's default
    assert write_api.post("/api/v1/curation/boosts/", {"item_id": "books-2", "strength": 0.5, "holdout_share": 0},
                          format="json").json()["holdout_share"] == 0.0
    resp = write_api.post("/api/v1/curation/blocks/", {"item_id": "books-3", "holdout_share": 0.1}, format="json")
    assert resp.status_code == 400  # blocks have no holdout


def test_the_impact_endpoint(write_api, read_api):
    top = _popular(read_api)
    rule = write_api.post("/api/v1/curation/pins/", {"item_id": top[-1]["item_id"], "position": 1,
                                                     "holdout_share": 0.5}, format="json").json()
    for s in Shopper.objects.all():
        read_api.get(f"/api/v1/users/{s.user_id}/recommendations/", {"limit": 5})
    impression_buffer.buffer().flush()
    resp = read_api.get(f"/api/v1/curation/pins/{rule['id']}/impact/")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert set(body) >= {"exposed", "holdout", "difference", "verdict", "needed_impressions"}
    assert body["exposed"]["impressions"] + body["holdout"]["impressions"] == Shopper.objects.count()
    assert set(body["exposed"]) == {"impressions", "clicks", "purchases", "ctr", "conversion"}
    assert set(body["exposed"]["ctr"]) == {"value", "low", "high"} and body["verdict"] == "unknown"
    assert set(body["difference"]) == {"ctr", "conversion"}
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    later = read_api.get(f"/api/v1/curation/pins/{rule['id']}/impact/", {"start": tomorrow}).json()
    assert later["exposed"]["impressions"] == 0 and later["holdout"]["impressions"] == 0
    bad = read_api.get(f"/api/v1/curation/pins/{rule['id']}/impact/", {"start": "last week"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "start"
    assert read_api.get(f"/api/v1/curation/boosts/{rule['id']}/impact/").status_code == 404  # wrong kind
    block = write_api.post("/api/v1/curation/blocks/", {"item_id": "books-1"}, format="json").json()
    assert read_api.get(f"/api/v1/curation/blocks/{block['id']}/impact/").status_code == 400
    assert read_api.get("/api/v1/curation/pins/999999/impact/").status_code == 404


def test_export_erasure_and_merge_follow_rule_impressions(write_api, read_api):
    top = _popular(read_api)
    write_api.post("/api/v1/curation/pins/", {"item_id": top[-1]["item_id"], "position": 1, "holdout_share": 0.5},
                   format="json")
    read_api.get("/api/v1/users/books-fan-0/recommendations/", {"limit": 5})
    read_api.get("/api/v1/users/anon-7/recommendations/", {"limit": 5})  # a session, merged below
    impression_buffer.buffer().flush()
    assert RuleImpression.objects.filter(user_id="anon-7").count() == 1
    merged = write_api.post("/api/v1/users/books-fan-0/merge/", {"from_user_id": "anon-7"}, format="json")
    assert merged.status_code == 200, merged.content
    assert RuleImpression.objects.filter(user_id="books-fan-0").count() == 2
    exported = write_api.get("/api/v1/users/books-fan-0/data/").json()
    assert len(exported["rule_impressions"]) == 2
    assert {r["arm"] for r in exported["rule_impressions"]} <= {"exposed", "holdout"}
    assert write_api.delete("/api/v1/users/books-fan-0/").status_code == 204
    assert not RuleImpression.objects.filter(user_id__in=["books-fan-0", "anon-7"]).exists()
