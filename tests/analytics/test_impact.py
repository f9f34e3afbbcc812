"""Curation impact: the statistics on crafted data with known answers (pure), then the admin
report and its CSV on the same data stored as impressions and events."""
from __future__ import annotations

import csv
import io
import math
from datetime import timedelta

import pytest
from django.utils import timezone

from recsys.analytics.assignment import in_control
from recsys.analytics.impact_stats import Cell, csv_rows, impact_report, newcombe_difference, rate, wilson
from recsys.models import Event, Impression, Item, Shopper


def test_wilson_matches_published_values():
    lo, hi = wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(81, 263)  # Newcombe (1998), Table I
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    assert wilson(0, 0) == (None, None)
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0


def test_newcombe_difference_matches_the_paper():
    d = newcombe_difference(rate(56, 70), rate(48, 80))  # Newcombe (1998) example (b), method 10
    assert (round(d.value, 4), round(d.low, 4), round(d.high, 4)) == (0.2, 0.0524, 0.3339)
    assert newcombe_difference(rate(1, 2), rate(0, 0)).value is None


# Crafted: the model earns 20% at position 1 and 10% at position 2. A pin at position 1 earns
# 30% (raw CTR looks +15 points above the model's 15%, but at equal positions it is +10 points).
# A boost at position 2 earns exactly the model's 10% there. Popular fallback sits at position 3
# where the model has no impressions: nothing to compare. Control traffic: 20 of 200.
CELLS = [
    Cell("model", None, 1, False, 100, 20, 5),
    Cell("model", None, 2, False, 100, 10, 2),
    Cell("pinned", 7, 1, False, 50, 15, 6),
    Cell("boosted", 8, 2, False, 100, 10, 1),
    Cell("popular", None, 3, False, 10, 1, 0),
    Cell("model", None, 1, True, 100, 15, 3),
    Cell("model", None, 2, True, 100, 5, 1),
]


def test_sources_are_compared_with_the_model_at_equal_positions():
    report = impact_report(CELLS)
    by = {g.key: g for g in report.by_source}
    assert [g.key for g in report.by_source] == ["model", "pinned", "boosted", "popular"]
    model, pinned, boosted, popular = by["model"], by["pinned"], by["boosted"], by["popular"]
    assert (model.impressions, model.ctr.successes, model.ctr.value) == (200, 30, 0.15)
    assert pinned.ctr.value == 0.3 and pinned.conversion.value == 6 / 50
    assert pinned.model_ctr_same_positions == pytest.approx(0.2)
    assert pinned.ctr_vs_model.value == pytest.approx(0.1)
    # var = p(1-p)/n + n^2 * q(1-q)/m / n^2 = 0.3*0.7/50 + 0.2*0.8/100
    half = 1.959963984540054 * math.sqrt(0.3 * 0.7 / 50 + 0.2 * 0.8 / 100)
    assert pinned.ctr_vs_model.low == pytest.approx(0.1 - half)
    assert pinned.ctr_vs_model.high == pytest.approx(0.1 + half)
    assert boosted.model_ctr_same_positions == pytest.approx(0.1) and boosted.ctr_vs_model.value == pytest.approx(0)
    assert model.ctr_vs_model.value == pytest.approx(0)  # the yardstick against itself
    assert popular.comparable_impressions == 0 and popular.model_ctr_same_positions is None
    assert popular.ctr.value == 0.1 and popular.ctr_vs_model.value is None
    lo, hi = wilson(15, 50)
    assert (pinned.ctr.low, pinned.ctr.high) == (lo, hi)


def test_per_rule_and_curated_vs_control():
    report = impact_report(CELLS)
    rules = {g.key: g for g in report.by_rule}
    assert set(rules) == {7, 8}
    assert rules[7].impressions == 50 and rules[7].ctr_vs_model.value == pytest.approx(0.1)
    assert report.curated.impressions == 360 and report.curated.ctr.successes == 56
    assert report.control.impressions == 200 and report.control.ctr.successes == 20
    expected = newcombe_difference(rate(56, 360), rate(20, 200))
    assert report.curated_vs_control_ctr == expected
    assert report.curated_vs_control_ctr.value == pytest.approx(56 / 360 - 0.1)
    assert report.curated_vs_control_conversion.value == pytest.approx(14 / 360 - 4 / 200)
    positions = {g.key: g for g in report.by_position}
    assert positions[(1, "pinned")].impressions == 50 and positions[(2, "boosted")].ctr.value == 0.1


def test_csv_rows_carry_every_section():
    rows = csv_rows(impact_report(CELLS), rule_label=lambda rid: f"R{rid}")
    header, body = rows[0], rows[1:]
    assert header[:5] == ["section", "group", "impressions", "clicks", "ctr"]
    pinned = next(r for r in body if r[:2] == ["source", "pinned"])
    assert pinned[2:5] == ["50", "15", "0.300000"] and pinned[13] == "0.100000"
    assert [r[1] for r in body if r[0] == "rule"] == ["R7", "R8"]
    assert {r[1] for r in body if r[0] == "traffic"} == {"curated", "control"}
    assert [r[1] for r in body if r[0] == "curated_minus_control"] == ["ctr", "conversion"]
    assert all(len(r) == len(header) for r in rows)


def test_empty_report_has_no_numbers():
    report = impact_report([])
    assert report.by_source == [] and report.curated.ctr.value is None
    assert report.curated_vs_control_ctr.value is None


# --- control draw -------------------------------------------------------------------------
def test_control_share_is_stable_per_shopper_and_day_and_near_the_share():
    from datetime import date

    day = date(2026, 3, 1)
    draws = [in_control(user_id=f"u{i}", day=day, share=0.05) for i in range(20_000)]
    assert draws == [in_control(user_id=f"u{i}", day=day, share=0.05) for i in range(20_000)]
    assert 0.04 < sum(draws) / len(draws) < 0.06
    next_day = [in_control(user_id=f"u{i}", day=date(2026, 3, 2), share=0.05) for i in range(20_000)]
    assert draws != next_day  # re-drawn daily
    assert not any(in_control(user_id=f"u{i}", day=day, share=0) for i in range(100))
    assert all(in_control(user_id=f"u{i}", day=day, share=1) for i in range(100))
    # Anonymous requests are drawn per request key.
    anon = [in_control(user_id="", day=day, share=0.5, fallback_key=f"rec{i}") for i in range(2000)]
    assert 0.4 < sum(anon) / len(anon) < 0.6


# --- the admin report on stored data ----------------------------------------------------------
def _store(cells: list[Cell], placement: str = "home") -> None:
    """Impressions and events realising `cells` (one list per impression, for simplicity)."""
    shopper, _ = Shopper.objects.get_or_create(user_id="s")
    now = timezone.now()
    imps, events = [], []
    n = 0
    for c in cells:
        item, _ = Item.objects.get_or_create(item_id=f"{c.source}-{c.position}", defaults={"title": "x"})
        for i in range(c.impressions):
            n += 1
            rec = f"{placement}-r{n}"
            imps.append(Impression(recommendation_id=rec, position=c.position, item=item, source=c.source,
                                   rule_id=c.rule_id, placement=placement, is_control=c.is_control, created_at=now))
            if i < c.clicks:
                events.append(Event(event_id=f"{rec}-c", shopper=shopper, item=item, type="click",
                                    timestamp=now, recommendation_id=rec))
            if i < c.conversions:
                events.append(Event(event_id=f"{rec}-p", shopper=shopper, item=item, type="purchase",
                                    timestamp=now, recommendation_id=rec))
    Impression.objects.bulk_create(imps)
    Event.objects.bulk_create(events)


@pytest.mark.django_db
def test_admin_impact_report_and_csv_show_the_known_answers(admin_client):
    from curation.models import Rule

    Item.objects.create(item_id="pinned-1", title="x")
    Rule.objects.create(pk=7, kind="pin", item_id="pinned-1", position=1, name="Summer hero")
    _store(CELLS)
    _store([Cell("model", None, 1, False, 40, 40, 0)], placement="email")  # another placement
    today = timezone.localdate()
    q = f"start={today - timedelta(days=1)}&end={today}&placement=home"
    page = admin_client.get(f"/admin/recsys/impression/?{q}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "Curation impact" in html and "Summer hero" in html
    assert "30.00%" in html and "+10.00 pts" in html  # pinned CTR and its lift at equal positions
    assert "http://" not in html.split("<svg", 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org", "")
    response = admin_client.get(f"/admin/recsys/impression/?{q}&format=csv")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    by = {(r[0], r[1]): r for r in rows[1:]}
    assert by[("source", "model")][2:5] == ["200", "30", "0.150000"]
    assert by[("source", "pinned")][2:5] == ["50", "15", "0.300000"]
    assert by[("source", "pinned")][7] == "6" and by[("source", "pinned")][13] == "0.100000"
    assert by[("rule", "#7 Summer hero")][2] == "50"
    assert by[("traffic", "control")][2:4] == ["200", "20"]
    # All placements together include the email list.
    rows = list(csv.reader(io.StringIO(admin_client.get(
        f"/admin/recsys/impression/?start={today}&end={today}&format=csv").content.decode())))
    assert {(r[0], r[1]): r for r in rows[1:]}[("source", "model")][2] == "240"


@pytest.mark.django_db
def test_admin_impact_report_tolerates_bad_dates_and_no_data(admin_client):
    page = admin_client.get("/admin/recsys/impression/?start=yesterday&end=2026-13-45&placement=nowhere")
    assert page.status_code == 200
    assert "No impressions in this period." in page.content.decode()
