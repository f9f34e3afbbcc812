"""Attribution and the curation impact report's data (the statistics live in recsys.analytics.impact_stats).

Attribution is done at query time, not at ingestion: an event is attributed to the impression
with the same `recommendation_id` and item. Impressions reach the database in batches, so a
click may be stored before its impression; joining when the report is read makes the order
irrelevant and keeps ingestion unchanged. Engaged = a click, add-to-cart or purchase event;
converted = a purchase event.
"""
from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Exists, OuterRef, QuerySet

from recsys.analytics.impact_stats import Cell
from recsys.analytics.models import Impression
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
