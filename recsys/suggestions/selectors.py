"""Reads for the suggestions inbox: the detectors' signals (from the domains that measure them) and the inbox."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, QuerySet, Value, When

from curation.models import ChangeSetStatus, Rule
from recsys.analytics.models import Impression
from recsys.analytics.selectors import ENGAGED, rule_arm_counts, rule_impacts_measured
from recsys.catalog.availability import unavailable_items
from recsys.catalog.models import Event, Item
from recsys.feedback.models import Feedback, FeedbackType
from recsys.feedback.selectors import review_queue
from recsys.training.models import ModelVersion

from .detectors import ItemStats, RuleFact, Signals, Thresholds, VersionStats
from .models import SEVERITY_ORDER, Suggestion, SuggestionStatus

CURATED_SOURCES = ("pinned", "boosted", "popular", "new")  # shown without the model's choice
LISTS_PER_PLACEMENT = 2000  # the concentration detector's sample of served lists per placement


def thresholds() -> Thresholds:
    names = Thresholds.__dataclass_fields__
    return Thresholds(**{name: getattr(settings, f"SUGGEST_{name.upper()}") for name in names})


def _clicked() -> Exists:
    return Exists(Event.objects.filter(recommendation_id=OuterRef("recommendation_id"), item_id=OuterRef("item_id"),
                                       type__in=ENGAGED))


def _rules(now: datetime) -> list[RuleFact]:
    rows = Rule.objects.exclude(change_set__status=ChangeSetStatus.OPEN, enabled=False).select_related("item")
    return [RuleFact(id=r.pk, kind=r.kind, title=r.title, item_id=r.item_id or "", placement=r.placement,
                     enabled=r.enabled, starts_at=r.starts_at, ends_at=r.ends_at, created_at=r.created_at,
                     holdout_share=r.holdout_share) for r in rows]


def _item_stats(start: datetime, end: datetime) -> dict[str, ItemStats]:
    shown = Impression.objects.filter(created_at__gte=start, created_at__lt=end)
    by_source: dict[str, dict[str, int]] = {}
    for row in shown.values("item__item_id", "source").annotate(n=Count("id")).order_by():
        by_source.setdefault(row["item__item_id"], {})[row["source"]] = row["n"]
    curated_clicks = dict(shown.filter(source__in=CURATED_SOURCES).filter(_clicked()).values("item__item_id")
                          .annotate(n=Count("id")).order_by().values_list("item__item_id", "n"))
    feedback: dict[str, dict[str, int]] = {}
    for row in (Feedback.objects.filter(created_at__gte=start, created_at__lt=end).values("item__item_id", "type")
                .annotate(n=Count("id")).order_by()):
        feedback.setdefault(row["item__item_id"], {})[row["type"]] = row["n"]
    open_reports = dict(review_queue().values_list("item_id", "open_reports"))
    out = {}
    for item_id in set(by_source) | set(feedback):
        sources, fb = by_source.get(item_id, {}), feedback.get(item_id, {})
        out[item_id] = ItemStats(
            impressions=sum(sources.values()), model_impressions=sources.get("model", 0),
            curated_impressions=sum(sources.get(s, 0) for s in CURATED_SOURCES),
            curated_clicks=curated_clicks.get(item_id, 0), not_interested=fb.get(FeedbackType.NOT_INTERESTED, 0),
            reports=fb.get(FeedbackType.REPORT, 0), open_reports=open_reports.get(item_id, 0))
    return out


def _placement_lists(start: datetime, end: datetime) -> dict[str, list[list[str]]]:
    """A sample of the period's served lists per placement (the newest), as item ids in rank order."""
    out: dict[str, list[list[str]]] = {}
    shown = Impression.objects.filter(created_at__gte=start, created_at__lt=end)
    for placement in shown.values_list("placement", flat=True).distinct().order_by():
        recs = list(shown.filter(placement=placement).values_list("recommendation_id", flat=True).distinct()
                    .order_by("-recommendation_id")[:LISTS_PER_PLACEMENT])
        lists: dict[str, list[str]] = {}
        for rec, item_id in (shown.filter(placement=placement, recommendation_id__in=recs)
                             .order_by("recommendation_id", "position").values_list("recommendation_id",
                                                                                    "item__item_id")):
            lists.setdefault(rec, []).append(item_id)
        out[placement] = list(lists.values())
    return out


def _version_stats(version_id: int, start: datetime, end: datetime) -> VersionStats:
    shown = Impression.objects.filter(model_version=version_id, source="model", created_at__gte=start,
                                      created_at__lt=end)
    return VersionStats(version_id, shown.count(), shown.filter(_clicked()).count(), start, end)


def _models(now: datetime, days: int) -> tuple[VersionStats | None, VersionStats | None]:
    """The active version's first `days` since activation (only while it is that young), against the version
    that served before it over the same length of time just before."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is None or active.activated_at is None or now - active.activated_at > timedelta(days=days * 2):
        return None, None
    previous_id = (Impression.objects.filter(created_at__lt=active.activated_at, model_version__isnull=False)
                   .exclude(model_version=active.pk).order_by("-created_at")
                   .values_list("model_version", flat=True).first())
    if previous_id is None:
        return None, None
    start, end = active.activated_at, min(now, active.activated_at + timedelta(days=days))
    length = end - start
    return (_version_stats(active.pk, start, end),
            _version_stats(previous_id, active.activated_at - length, active.activated_at))


def signals(*, now: datetime, t: Thresholds) -> Signals:
    """Everything the detectors read, in a bounded number of grouped queries."""
    start = now - timedelta(days=t.period_days)
    rules = _rules(now)
    holdout_ids = [r.id for r in rules if r.holdout_share]
    impacts = rule_impacts_measured(rule_ids=holdout_ids) if holdout_ids else {}
    pin_ids = [r.id for r in rules if r.kind == "pin"]
    exposed = {rid: arms[0].impressions for rid, arms in rule_arm_counts(rule_ids=pin_ids, start=start).items()} \
        if pin_ids else {}
    shown = Impression.objects.filter(created_at__gte=start, created_at__lt=now)
    per_placement = dict(shown.values("placement").annotate(n=Count("id")).order_by().values_list("placement", "n"))
    per_placement[""] = sum(per_placement.values())  # a rule without a placement applies to every list
    items = _item_stats(start, now)
    catalog = dict(Item.objects.filter(available=True).values_list("item_id", "category"))
    newest = now - timedelta(days=t.new_item_days)
    new_items = list(Item.objects.filter(available=True, created_at__lte=newest,
                                         created_at__gt=newest - timedelta(days=t.period_days))
                     .values_list("item_id", "created_at"))
    new_ids = [i for i, _ in new_items]
    seen = set(Impression.objects.filter(item__item_id__in=new_ids).values_list("item__item_id", flat=True)
               .distinct()) if new_ids else set()
    unavailable = unavailable_items()
    mentioned = ({r.item_id for r in rules if r.item_id} | set(items) | set(new_ids))
    titles = dict(Item.objects.filter(item_id__in=mentioned).values_list("item_id", "title"))
    current, previous = _models(now, t.model_days)
    return Signals(now=now, rules=rules, impacts=impacts, unavailable=unavailable, exposed_by_rule=exposed,
                   placement_impressions=per_placement, items=items, titles=titles, catalog=catalog,
                   placement_lists=_placement_lists(start, now), new_items=new_items,
                   never_shown=frozenset(set(new_ids) - seen),
                   model_current=current, model_previous=previous)


# --- the inbox ---------------------------------------------------------------------------------------

_SEVERITY_RANK = Case(*[When(severity=s, then=Value(n)) for s, n in SEVERITY_ORDER.items()],
                      output_field=IntegerField())


def suggestion_list(*, status: str | None = None) -> QuerySet[Suggestion]:
    """By severity (high first), then age (oldest first: it has waited longest)."""
    qs = Suggestion.objects.all()
    if status:
        qs = qs.filter(status=status)
    return qs.annotate(severity_rank=_SEVERITY_RANK).order_by("severity_rank", "created_at", "pk")


def suggestion_cases_latest(*, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Suggestion]:
    """The latest row of each (detector, key) case."""
    if not keys:
        return {}
    wanted = set(keys)
    rows = Suggestion.objects.filter(detector__in={d for d, _ in wanted}, key__in={k for _, k in wanted})
    out: dict[tuple[str, str], Suggestion] = {}
    for row in rows.order_by("created_at", "pk"):
        if (row.detector, row.key) in wanted:
            out[(row.detector, row.key)] = row  # the newest wins
    return out


def suggestion_counts() -> dict[tuple[str, str], int]:
    """(detector, status) -> suggestions, for /metrics and the landing card."""
    rows = Suggestion.objects.values("detector", "status").annotate(n=Count("id")).order_by()
    return {(r["detector"], r["status"]): r["n"] for r in rows}


def accepted_outcomes() -> dict[str, int]:
    """How accepted suggestions fared: their rules' holdout verdicts (helps, hurts, unknown; none measured)."""
    rule_ids = list(Suggestion.objects.filter(status=SuggestionStatus.ACCEPTED, rule_id__isnull=False)
                    .values_list("rule_id", flat=True))
    measured = set(Rule.objects.filter(pk__in=rule_ids, holdout_share__gt=0, enabled=True)
                   .values_list("pk", flat=True))
    impacts = rule_impacts_measured(rule_ids=sorted(measured)) if measured else {}
    out = {"accepted": len(rule_ids), "helps": 0, "hurts": 0, "unknown": 0, "unmeasured": len(rule_ids) - len(measured)}
    for impact in impacts.values():
        out[impact.verdict] += 1
    return out


def verdicts_for(*, rule_ids: list[int]) -> dict[int, str]:
    ids = list(Rule.objects.filter(pk__in=rule_ids, holdout_share__gt=0).values_list("pk", flat=True))
    return {rid: i.verdict for rid, i in (rule_impacts_measured(rule_ids=ids) if ids else {}).items()}
