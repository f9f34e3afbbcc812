"""GET /api/v1/curation/<kind>/<id>/impact/: start/end read by DRF's date fields (out-of-range dates are a
400, a bare end date counts its whole day), each report cached briefly, and the impact rate (429)."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

import curation.api
from curation.services import rule_create
from recsys.analytics.models import RuleImpression
from recsys.clients.throttles import ScopedClientThrottle
from recsys.models import Item

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule():
    Item.objects.bulk_create([Item(item_id="sku-1", title="Kettle"), Item(item_id="sku-2", title="Mug")])
    return rule_create(kind="pin", data={"item_id": "sku-1", "position": 1, "holdout_share": 0.5}, actor="test")


def impact_url(rule) -> str:
    return f"/api/v1/curation/pins/{rule.pk}/impact/"


def shown(rule, at: datetime, arm: str = "exposed", n: int = 1) -> None:
    RuleImpression.objects.bulk_create([
        RuleImpression(rule_id=rule.pk, arm=arm, recommendation_id=f"r-{at.timestamp()}-{k}", position=1,
                       item_id=Item.objects.get(item_id="sku-1").pk, user_id=f"u{k}", created_at=at)
        for k in range(n)])


@pytest.mark.parametrize("params", [
    {"start": "0001-01-01T00:00:00+14:00"},  # was an OverflowError (500)
    {"end": "9999-12-31T23:59:59-05:00"},
    {"end": "9999-12-31"},  # the whole day ends past year 9999
])
def test_out_of_range_dates_are_a_400(read_api, rule, params):
    resp = read_api.get(impact_url(rule), params)
    assert resp.status_code == 400, resp.content
    [error] = resp.json()["errors"]
    assert error["field"] == next(iter(params)) and "out of range" in error["message"], error


@pytest.mark.parametrize("value", ["last week", "2026-02-30", "2026-01-31T25:00", "31/01/2026"])
def test_what_is_not_a_date_is_a_400_naming_the_field(read_api, rule, value):
    resp = read_api.get(impact_url(rule), {"end": value})
    assert resp.status_code == 400, resp.content
    [error] = resp.json()["errors"]
    assert error["field"] == "end" and "is not a date (YYYY-MM-DD) or an ISO 8601 datetime" in error["message"]
    assert resp.json()["detail"]


def test_a_bare_end_date_counts_its_whole_day(read_api, rule):
    shown(rule, datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    shown(rule, datetime(2026, 2, 1, 0, 30, tzinfo=UTC), n=2)

    def impressions(**params) -> int:
        resp = read_api.get(impact_url(rule), params)
        assert resp.status_code == 200, resp.content
        return resp.json()["exposed"]["impressions"]

    assert impressions(end="2026-01-31") == 1  # through 23:59:59.999999 that day
    assert impressions(start="2026-01-31", end="2026-01-31") == 1  # one whole day
    assert impressions(start="2026-02-01") == 2  # a start date: from its first moment
    assert impressions(end="2026-01-31T23:00:00Z") == 0  # a datetime is that moment
    assert impressions(end="2026-02-01T00:30:00+00:00") == 1  # end is exclusive
    assert impressions(start="2026-02-01T01:00:00+01:00", end="2026-02-01T02:00:00+01:00") == 2  # offsets
    assert impressions(start="2026-01-31T23:30:00") == 3  # a naive datetime is UTC
    assert impressions(start="", end="") == 3  # empty: the rule's whole life
    resp = read_api.get(impact_url(rule), {"start": "2026-02-01", "end": "2026-01-31"})
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "end"


def test_an_impact_report_is_cached_briefly_per_rule_and_window(read_api, rule, settings, monkeypatch):
    settings.IMPACT_CACHE_SECONDS = 1
    computed = []
    measured = curation.api.rule_impacts_measured

    def counting(**kwargs):
        computed.append(kwargs)
        return measured(**kwargs)

    monkeypatch.setattr(curation.api, "rule_impacts_measured", counting)
    now = datetime.now(UTC)
    shown(rule, now)
    first = read_api.get(impact_url(rule)).json()
    assert first["exposed"]["impressions"] == 1 and len(computed) == 1
    shown(rule, now, n=4)
    again = read_api.get(impact_url(rule)).json()
    assert again == first and len(computed) == 1  # the cached report: nothing recounted, the new rows unseen
    window = read_api.get(impact_url(rule), {"start": now.date().isoformat()}).json()
    assert window["exposed"]["impressions"] == 5 and len(computed) == 2  # another window: its own entry
    time.sleep(1.1)  # the entry expires
    assert read_api.get(impact_url(rule)).json()["exposed"]["impressions"] == 5 and len(computed) == 3
    settings.IMPACT_CACHE_SECONDS = 0  # off: every report is measured
    read_api.get(impact_url(rule))
    read_api.get(impact_url(rule))
    assert len(computed) == 5


def test_impact_reports_have_their_own_rate(read_api, rule, monkeypatch):
    monkeypatch.setattr(ScopedClientThrottle, "THROTTLE_RATES",
                        {**ScopedClientThrottle.THROTTLE_RATES, "impact": "2/min"})
    other = rule_create(kind="pin", data={"item_id": "sku-2", "position": 2, "holdout_share": 0.2}, actor="test")
    assert read_api.get(impact_url(rule)).status_code == 200
    assert read_api.get(impact_url(other)).status_code == 200  # per client, not per rule
    resp = read_api.get(impact_url(rule))
    assert resp.status_code == 429 and int(resp["Retry-After"]) >= 1
    assert "CURIO_THROTTLE_IMPACT" in resp.json()["detail"]
    assert read_api.get(f"/api/v1/curation/pins/{rule.pk}/").status_code == 200  # the rule itself: not charged
