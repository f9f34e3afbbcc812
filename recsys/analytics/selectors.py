"""Attribution and the curation impact report's data (the statistics live in recsys.analytics.impact_stats).

Attribution is done at query time, not at ingestion: an event is attributed to the impression
with the same `recommendation_id` and item. Impressions reach the database in batches, so a
click may be stored before its impression; joining when the report is read makes the order
irrelevant and keeps ingestion unchanged. Engaged = a click, add-to-cart or purchase event;
converted = a purchase event.
"""
from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, QuerySet

from curation.models import Rule
from recsys.analytics.impact_stats import Cell
from recsys.analytics.models import Impression, RuleImpression
from recsys.analytics.rule_impact import ArmCounts, RuleImpact, rule_impacts
from recsys.catalog.models import Event
from recsys.ml.events import CONVERTED_TYPES, ENGAGED_TYPES

ENGAGED = ENGAGED_TYPES
CONVERTED = CONVERTED_TYPES
GROUP = ("source", "rule_id", "position", "is_control")


def impressions_in(*, start: datetime, end: datetime, placement: str = "") -> QuerySet[Impression]:
    qs = Impression.objects.filter(created_at__gte=start, created_at__lt=end)
    return qs.filter(placement=placement) if placement else qs


def _with_event(types) -> Exists:
    return Exists(Event.objects.filter(recommendation_id=OuterRef("recommendation_id"), item_id=OuterRef("item_id"),
                                       type__in=types))


def impact_cells(*, start: datetime, end: datetime, placement: str = "") -> list[Cell]:
    """Impression counts per (source, rule, position, control), with engaged and converted counts."""
    qs = impressions_in(start=start, end=end, placement=placement)

    def counts(q) -> dict[tuple, int]:
        return {tuple(r[k] for k in GROUP): r["n"] for r in q.values(*GROUP).annotate(n=Count("id")).order_by()}

    shown = counts(qs)
    engaged = counts(qs.filter(_with_event(ENGAGED)))
    converted = counts(qs.filter(_with_event(CONVERTED)))
    return [Cell(source=k[0], rule_id=k[1], position=k[2], is_control=k[3], impressions=n,
                 clicks=engaged.get(k, 0), conversions=converted.get(k, 0)) for k, n in shown.items()]


def attribution_counts(*, start: datetime, end: datetime, placement: str = "") -> dict[str, int]:
    """Events per type attributed to an impression of the period (each event counted once)."""
    shown = impressions_in(start=start, end=end, placement=placement).filter(
        recommendation_id=OuterRef("recommendation_id"), item_id=OuterRef("item_id"))
    rows = (Event.objects.exclude(recommendation_id="").filter(type__in=ENGAGED).filter(Exists(shown))
            .values("type").annotate(n=Count("id")).order_by())
    out = {str(t): 0 for t in ENGAGED}
    out.update({r["type"]: r["n"] for r in rows})
    return out


def rule_arm_counts(*, rule_ids: list[int] | None = None, start: datetime | None = None,
                    end: datetime | None = None) -> dict[int, tuple[ArmCounts, ArmCounts]]:
    """Per rule: (exposed, holdout) impressions, clicks (engaged) and purchases on the positions it
    touched, in [start, end) (open ends: all time). Three grouped queries for any number of rules."""
    qs = RuleImpression.objects.all()
    if rule_ids is not None:
        qs = qs.filter(rule_id__in=rule_ids)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)

    def counts(q) -> dict[tuple, int]:
        rows = q.values("rule_id", "arm").annotate(n=Count("id")).order_by()
        return {(r["rule_id"], r["arm"]): r["n"] for r in rows}

    shown = counts(qs)
    clicked = counts(qs.filter(_with_event(ENGAGED)))
    bought = counts(qs.filter(_with_event(CONVERTED)))

    def arm(rule_id: int, name: str) -> ArmCounts:
        key = (rule_id, name)
        return ArmCounts(shown.get(key, 0), clicked.get(key, 0), bought.get(key, 0))

    ids = set(rule_ids or ()) | {rid for rid, _ in shown}
    return {rid: (arm(rid, RuleImpression.Arm.EXPOSED), arm(rid, RuleImpression.Arm.HOLDOUT)) for rid in ids}


def rule_impacts_measured(*, start: datetime | None = None, end: datetime | None = None,
                          rule_ids: list[int] | None = None) -> dict[int, RuleImpact]:
    """Every rule with a holdout (or the rules named), measured against its holdout; verdicts are
    controlled across them all (one false-discovery rate)."""
    ids = rule_ids if rule_ids is not None else list(
        Rule.objects.filter(holdout_share__gt=0).values_list("pk", flat=True))
    counts = rule_arm_counts(rule_ids=ids, start=start, end=end) if ids else {}
    return rule_impacts({rid: counts[rid] for rid in ids}, mde=settings.RULE_MDE, fdr=settings.RULE_FDR)


def new_item_impressions(*, since: datetime) -> dict[str, int]:
    """Impressions per item shown as new (source `new`: an exploration slot, or a new item's similar list) since
    `since`: one grouped query on a partial index (the serving cache of recsys.serving.popular asks at most once
    per CURIO_POPULAR_CACHE_SECONDS per process)."""
    rows = (Impression.objects.filter(created_at__gte=since, source="new").values("item__item_id")
            .annotate(n=Count("id")).order_by().values_list("item__item_id", "n"))
    return dict(rows)
