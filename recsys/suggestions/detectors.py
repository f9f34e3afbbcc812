"""The suggestion detectors: pure functions over the reads in `Signals` (recsys.suggestions.selectors builds it).

Each detector returns `Finding`s: a case (`detector` + `key`), how urgent it is, a title and a one-line why, the
evidence (numbers with 95% intervals, the period, links) and what accepting it would do (`proposal`). Statistics
are the analytics domain's (Wilson intervals, Newcombe differences, the rules' holdout verdicts) and the model
card's figures (recsys.ml.card_figures); nothing here touches the database, so each detector is tested on
planted signals as well as on a planted shop.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from recsys.analytics.impact_stats import newcombe_difference, rate
from recsys.analytics.rule_impact import RuleImpact, two_proportion_p
from recsys.ml import card_figures


@dataclass(frozen=True)
class Thresholds:
    period_days: int = 14
    expiring_days: int = 7
    pin_grace_days: int = 2
    feedback_min: int = 5
    feedback_rate_factor: float = 3.0
    feedback_always: int = 20
    underexposed_min_impressions: int = 50
    underexposed_ctr_factor: float = 2.0
    underexposed_model_share: float = 0.002
    concentration_category_share: float = 0.5
    concentration_gini: float = 0.95
    concentration_min_lists: int = 50
    new_item_days: int = 7
    model_days: int = 3
    model_min_impressions: int = 1000
    model_min_drop: float = 0.1


@dataclass(frozen=True)
class RuleFact:
    id: int
    kind: str
    title: str
    item_id: str = ""
    placement: str = ""
    enabled: bool = True
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    created_at: datetime | None = None
    holdout_share: float = 0.0
    draft: bool = False  # a board draft not yet published

    def live(self, now: datetime) -> bool:
        return (self.enabled and not self.draft and (self.starts_at is None or self.starts_at <= now)
                and (self.ends_at is None or self.ends_at > now))


@dataclass(frozen=True)
class ItemStats:
    """One item's figures in the period."""

    impressions: int = 0
    model_impressions: int = 0
    curated_impressions: int = 0  # pinned, boosted, popular, new: traffic the model did not choose
    curated_clicks: int = 0
    not_interested: int = 0
    reports: int = 0
    open_reports: int = 0  # the review queue's count (any age)


@dataclass(frozen=True)
class VersionStats:
    version_id: int
    impressions: int
    clicks: int
    start: datetime
    end: datetime


@dataclass
class Signals:
    now: datetime
    rules: list[RuleFact] = field(default_factory=list)
    impacts: dict[int, RuleImpact] = field(default_factory=dict)
    unavailable: frozenset[str] = frozenset()
    exposed_by_rule: dict[int, int] = field(default_factory=dict)  # exposed rule impressions in the period
    placement_impressions: dict[str, int] = field(default_factory=dict)  # "" = every placement
    items: dict[str, ItemStats] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    catalog: dict[str, str] = field(default_factory=dict)  # available item -> category
    placement_lists: dict[str, list[list[str]]] = field(default_factory=dict)  # a sample of served lists
    new_items: list[tuple[str, datetime]] = field(default_factory=list)  # old enough to have been seen
    never_shown: frozenset[str] = frozenset()  # of new_items, those without any impression
    model_current: VersionStats | None = None
    model_previous: VersionStats | None = None


@dataclass(frozen=True)
class Finding:
    detector: str
    key: str
    severity: str
    title: str
    why: str
    evidence: dict
    strength: float
    proposal: dict


def _period(s: Signals, days: int) -> dict:
    return {"start": (s.now - timedelta(days=days)).isoformat(), "end": s.now.isoformat(), "days": days}


def _rate_json(clicks: int, n: int) -> dict:
    r = rate(min(clicks, n), n)
    return {"value": r.value, "low": r.low, "high": r.high}


def _rule_link(rule_id: int) -> dict:
    return {"label": f"rule #{rule_id}", "admin": "curation_rule_change", "args": [rule_id]}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


# --- rules -------------------------------------------------------------------------------------------

def _impact_evidence(impact: RuleImpact) -> dict:
    e, h, d = impact.exposed, impact.holdout, impact.ctr_difference
    return {"exposed": {"impressions": e.impressions, "clicks": e.clicks, "ctr": _rate_json(e.clicks, e.impressions)},
            "holdout": {"impressions": h.impressions, "clicks": h.clicks, "ctr": _rate_json(h.clicks, h.impressions)},
            "ctr_difference": {"value": d.value, "low": d.low, "high": d.high}, "p_value": impact.p_value,
            "verdict": impact.verdict}


def rule_hurts(s: Signals, t: Thresholds) -> list[Finding]:
    """A live rule whose holdout verdict is "hurts": disable it (or change it)."""
    out = []
    for rule in s.rules:
        impact = s.impacts.get(rule.id)
        if impact is None or impact.verdict != "hurts" or not rule.live(s.now):
            continue
        d = impact.ctr_difference
        out.append(Finding(
            "rule_hurts", f"rule:{rule.id}", "high", f"Rule #{rule.id} hurts: {rule.title}",
            f"Shoppers held out of it click {_pct(-d.value)} more (95% CI {_pct(-d.high)} to {_pct(-d.low)}): "
            "disable or change it.",
            {**_impact_evidence(impact), "rule_id": rule.id, "links": [_rule_link(rule.id)]},
            float(impact.exposed.impressions), {"action": "disable", "rule_id": rule.id}))
    return out


def rule_expiring(s: Signals, t: Thresholds) -> list[Finding]:
    """A live rule that helps and ends within `expiring_days`: extend it (a draft continuing it)."""
    out, soon = [], s.now + timedelta(days=t.expiring_days)
    for rule in s.rules:
        impact = s.impacts.get(rule.id)
        if impact is None or impact.verdict != "helps" or not rule.live(s.now):
            continue
        if rule.ends_at is None or rule.ends_at > soon:
            continue
        d = impact.ctr_difference
        days = max(1, math.ceil((rule.ends_at - (rule.starts_at or rule.created_at or s.now)).total_seconds() / 86400))
        out.append(Finding(
            "rule_expiring", f"rule:{rule.id}", "medium", f"Rule #{rule.id} helps and ends soon: {rule.title}",
            f"It raises click-through by {_pct(d.value)} (95% CI {_pct(d.low)} to {_pct(d.high)}) and ends "
            f"{rule.ends_at:%Y-%m-%d %H:%M}: extend it.",
            {**_impact_evidence(impact), "rule_id": rule.id, "ends_at": rule.ends_at.isoformat(),
             "links": [_rule_link(rule.id)]},
            float(impact.exposed.impressions), {"action": "extend", "rule_id": rule.id, "days": min(days, 90)}))
    return out


def pin_unavailable(s: Signals, t: Thresholds) -> list[Finding]:
    """A live pin or boost of an item that is unavailable: it does nothing now."""
    out = []
    for rule in s.rules:
        if rule.kind not in ("pin", "boost") or not rule.item_id or rule.item_id not in s.unavailable:
            continue
        if not rule.live(s.now):
            continue
        out.append(Finding(
            "pin_unavailable", f"rule:{rule.id}", "medium",
            f"{rule.kind.title()} #{rule.id} targets an unavailable item: {rule.item_id}",
            f"{rule.item_id} ({s.titles.get(rule.item_id, '')}) is unavailable, so the {rule.kind} shows nothing: "
            "disable it or target an available item.",
            {"rule_id": rule.id, "item_id": rule.item_id, "available": False, "links": [_rule_link(rule.id)]},
            1.0, {"action": "disable", "rule_id": rule.id}))
    return out


def pin_never_lands(s: Signals, t: Thresholds) -> list[Finding]:
    """A live pin, older than the grace period, with no exposed impression in the period while its lists were
    served: blocked, out of scope, or beyond the lists' length."""
    blocked = {r.item_id for r in s.rules if r.kind == "block" and r.item_id and r.live(s.now)}
    out = []
    for rule in s.rules:
        if rule.kind != "pin" or not rule.live(s.now) or rule.item_id in s.unavailable:
            continue
        since = max(x for x in (rule.starts_at, rule.created_at, s.now - timedelta(days=t.period_days)) if x)
        if s.now - since < timedelta(days=t.pin_grace_days) or s.exposed_by_rule.get(rule.id, 0):
            continue
        served = s.placement_impressions.get(rule.placement, 0)
        if not served:
            continue
        cause = ("a block rule removes the item" if rule.item_id in blocked
                 else "its scope (category, context item, segment) or position matches no served list")
        out.append(Finding(
            "pin_never_lands", f"rule:{rule.id}", "medium", f"Pin #{rule.id} never lands: {rule.title}",
            f"0 pinned impressions while {served:,} impressions were served in "
            f"{rule.placement or 'its lists'}; likely {cause}.",
            {"rule_id": rule.id, "item_id": rule.item_id, "pinned_impressions": 0,
             "placement_impressions": served, "blocked": rule.item_id in blocked, "period": _period(s, t.period_days),
             "links": [_rule_link(rule.id)]},
            float(served), {"action": "disable", "rule_id": rule.id}))
    return out


# --- items -------------------------------------------------------------------------------------------

def item_reported(s: Signals, t: Thresholds) -> list[Finding]:
    """An item with an unusual rate of "not interested" and reports per impression (its 95% lower bound over
    `feedback_rate_factor` x the shop's rate), or with `feedback_always` of them whatever its exposure."""
    total_feedback = sum(i.not_interested + i.reports for i in s.items.values())
    total_shown = sum(i.impressions for i in s.items.values())
    shop_rate = total_feedback / total_shown if total_shown else 0.0
    out = []
    for item_id, i in s.items.items():
        n = i.not_interested + i.reports
        if n < t.feedback_min:
            continue
        r = rate(min(n, i.impressions), i.impressions) if i.impressions else None
        unusual = r is not None and r.low > t.feedback_rate_factor * shop_rate
        if n < t.feedback_always and not unusual:
            continue
        out.append(Finding(
            "item_reported", f"item:{item_id}", "high" if n >= t.feedback_always or i.reports else "medium",
            f"{item_id} draws complaints: {s.titles.get(item_id, item_id)}",
            f"{n} \"not interested\" or reports in {t.period_days} days"
            + (f" on {i.impressions:,} impressions ({_pct(r.value)}, shop: {_pct(shop_rate)})" if r else "")
            + ": review it, or block it.",
            {"item_id": item_id, "not_interested": i.not_interested, "reports": i.reports,
             "open_reports": i.open_reports, "impressions": i.impressions,
             "rate": {"value": r.value, "low": r.low, "high": r.high} if r else None, "shop_rate": shop_rate,
             "period": _period(s, t.period_days),
             "links": [{"label": "review queue", "admin": "recsys_feedback_changelist", "args": []}]},
            float(n), {"action": "draft", "kind": "block", "data": {"item_id": item_id}}))
    return out


def underexposed(s: Signals, t: Thresholds) -> list[Finding]:
    """An item clicked well above the shop's click-through where curation or popularity showed it, but rarely
    recommended by the model: boost it, with a holdout to measure the boost."""
    shown = sum(i.curated_impressions for i in s.items.values())
    shop_ctr = sum(i.curated_clicks for i in s.items.values()) / shown if shown else 0.0
    model_total = sum(i.model_impressions for i in s.items.values())
    out = []
    for item_id, i in s.items.items():
        if i.curated_impressions < t.underexposed_min_impressions or item_id not in s.catalog:
            continue
        r = rate(min(i.curated_clicks, i.curated_impressions), i.curated_impressions)
        share = i.model_impressions / model_total if model_total else 0.0
        if r.low <= t.underexposed_ctr_factor * shop_ctr or share > t.underexposed_model_share:
            continue
        out.append(Finding(
            "underexposed", f"item:{item_id}", "low", f"{item_id} is clicked but rarely recommended: "
            f"{s.titles.get(item_id, item_id)}",
            f"Click-through {_pct(r.value)} (95% CI {_pct(r.low)} to {_pct(r.high)}) on {i.curated_impressions:,} "
            f"curated impressions against {_pct(shop_ctr)} for the shop, yet {_pct(share)} of the model's "
            "impressions: boost it, measured against a holdout.",
            {"item_id": item_id, "curated_impressions": i.curated_impressions, "curated_clicks": i.curated_clicks,
             "ctr": {"value": r.value, "low": r.low, "high": r.high}, "shop_ctr": shop_ctr,
             "model_impressions": i.model_impressions, "model_share": share, "period": _period(s, t.period_days)},
            float(i.curated_clicks),
            {"action": "draft", "kind": "boost", "data": {"item_id": item_id, "strength": 0.5}}))
    return out


def concentration(s: Signals, t: Thresholds) -> list[Finding]:
    """Exposure in a placement concentrated on few items (the model card's recommendation Gini) or one category
    (its share of impressions against its catalog share): a diversity rule for that placement."""
    if not s.catalog:
        return []
    index = {item_id: n for n, item_id in enumerate(s.catalog)}
    ids = np.array(list(s.catalog), dtype=object)
    out = []
    for placement, lists in sorted(s.placement_lists.items()):
        if len(lists) < t.concentration_min_lists:
            continue
        cols = [np.array([index[i] for i in row if i in index], dtype=np.int64) for row in lists]
        figures = card_figures.figures(cols, ids, s.catalog)
        top = max(figures["category_shares"], key=lambda c: c["recommended"])
        by_category = top["recommended"] > t.concentration_category_share and top["recommended"] > 2 * top["catalog"]
        by_items = figures["recommendation_gini"] > t.concentration_gini
        if not (by_category or by_items):
            continue
        length = max(1, round(float(np.mean([len(row) for row in lists]))))
        cap = max(1, math.ceil(length / 3))
        what = (f"{top['category']} takes {_pct(top['recommended'])} of impressions ({_pct(top['catalog'])} of the "
                "catalog)" if by_category else
                f"recommendation Gini {figures['recommendation_gini']:.2f}, catalog coverage "
                f"{_pct(figures['catalog_coverage'])}")
        out.append(Finding(
            "concentration", f"placement:{placement}", "medium",
            f"Exposure in {placement or 'unplaced lists'} is concentrated",
            f"In {len(lists):,} lists, {what}: limit it to {cap} per category in a list.",
            {"placement": placement, "lists": len(lists), "top_category": top,
             "recommendation_gini": figures["recommendation_gini"],
             "catalog_coverage": figures["catalog_coverage"], "category_share_gap": figures["category_share_gap"],
             "period": _period(s, t.period_days)},
            float(len(lists)),
            {"action": "draft", "kind": "diversity", "data": {"placement": placement, "max_per_category": cap}}))
    return out


NEW_ITEMS_MAX = 20


def new_item_unseen(s: Signals, t: Thresholds) -> list[Finding]:
    """A new available item never shown `new_item_days` after it arrived, while the shop served lists: a trial
    boost (with a holdout). The oldest NEW_ITEMS_MAX first: a catalog import must not flood the inbox."""
    if not s.placement_impressions.get(""):
        return []  # no list served (or none recorded): "never shown" says nothing
    out = []
    unseen = [(i, at) for i, at in s.new_items if i in s.never_shown and i in s.catalog
              and s.now - at >= timedelta(days=t.new_item_days)]
    for item_id, created_at in sorted(unseen, key=lambda pair: pair[1])[:NEW_ITEMS_MAX]:
        age = (s.now - created_at).days
        out.append(Finding(
            "new_item_unseen", f"item:{item_id}", "low", f"New item never shown: {s.titles.get(item_id, item_id)}",
            f"{item_id} arrived {age} days ago and no list has shown it yet: give it a trial boost for two weeks.",
            {"item_id": item_id, "created_at": created_at.isoformat(), "age_days": age, "impressions": 0},
            float(age),
            {"action": "draft", "kind": "boost", "data": {"item_id": item_id, "strength": 0.3}, "days": 14}))
    return out


def model_regression(s: Signals, t: Thresholds) -> list[Finding]:
    """The active model version's click-through in its first days clearly below the previous version's: a drop
    of at least `model_min_drop` (relative), significant at 5%, with enough impressions on both sides."""
    cur, prev = s.model_current, s.model_previous
    if cur is None or prev is None or min(cur.impressions, prev.impressions) < t.model_min_impressions:
        return []
    new, old = rate(min(cur.clicks, cur.impressions), cur.impressions), rate(min(prev.clicks, prev.impressions),
                                                                              prev.impressions)
    d = newcombe_difference(new, old)
    p = two_proportion_p(_Arm(cur.impressions, cur.clicks), _Arm(prev.impressions, prev.clicks))
    drop = (old.value - new.value) / old.value if old.value else 0.0
    if drop < t.model_min_drop or p is None or p >= 0.05 or d.high >= 0:
        return []
    return [Finding(
        "model_regression", f"model:{cur.version_id}", "high",
        f"Model version {cur.version_id} gets fewer clicks than version {prev.version_id}",
        f"Click-through {_pct(new.value)} in its first days against {_pct(old.value)} before "
        f"({_pct(-drop)} relative; difference {_pct(d.value)}, 95% CI {_pct(d.low)} to {_pct(d.high)}): "
        f"roll back to version {prev.version_id}.",
        {"version": cur.version_id, "previous_version": prev.version_id,
         "current": {"impressions": cur.impressions, "clicks": cur.clicks,
                     "ctr": _rate_json(cur.clicks, cur.impressions), "start": cur.start.isoformat(),
                     "end": cur.end.isoformat()},
         "previous": {"impressions": prev.impressions, "clicks": prev.clicks,
                      "ctr": _rate_json(prev.clicks, prev.impressions), "start": prev.start.isoformat(),
                      "end": prev.end.isoformat()},
         "ctr_difference": {"value": d.value, "low": d.low, "high": d.high}, "p_value": p,
         "links": [{"label": f"model version {prev.version_id}", "admin": "recsys_modelversion_change",
                    "args": [prev.version_id]}]},
        float(cur.impressions), {"action": "rollback", "version_id": prev.version_id})]


@dataclass(frozen=True)
class _Arm:  # the shape two_proportion_p reads
    impressions: int
    clicks: int


DETECTORS: dict[str, Callable[[Signals, Thresholds], list[Finding]]] = {
    "rule_hurts": rule_hurts,
    "rule_expiring": rule_expiring,
    "pin_unavailable": pin_unavailable,
    "pin_never_lands": pin_never_lands,
    "item_reported": item_reported,
    "underexposed": underexposed,
    "concentration": concentration,
    "new_item_unseen": new_item_unseen,
    "model_regression": model_regression,
}


def detect(s: Signals, t: Thresholds) -> list[Finding]:
    return [finding for detector in DETECTORS.values() for finding in detector(s, t)]
