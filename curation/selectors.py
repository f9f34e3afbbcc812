"""Reads of curation rules: for serving (engine dataclasses), the API and the admin preview; change sets."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from . import rules
from .models import ChangeSet, Rule, RuleKind, RulesStamp


def rule_list(*, kind: str | None = None) -> QuerySet[Rule]:
    qs = Rule.objects.all()
    return qs.filter(kind=kind) if kind else qs


def rules_for_serving(*, now: datetime) -> list[rules.Rule]:
    """Enabled rules not yet expired; windows are checked per request (expiry needs no write)."""
    qs = Rule.objects.filter(enabled=True).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    return [rule.to_engine() for rule in qs.order_by("id")]


def rules_for_preview() -> list[rules.Rule]:
    """Every rule, enabled or not, in or out of its window: the preview's `now` and switches decide."""
    return [rule.to_engine() for rule in Rule.objects.order_by("id")]


def rules_stamp_version() -> int:
    version = RulesStamp.objects.filter(pk=1).values_list("version", flat=True).first()
    return version or 0


# --- change sets ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Conflict:
    """A rule outside the change set, changed since the drafts began, touching what a draft touches."""

    rule_id: int
    title: str
    change: str  # created | changed | deleted
    changed_at: datetime
    changed_by: str
    draft_id: int
    why: str


HISTORY_CHANGE = {"+": "created", "~": "changed", "-": "deleted"}


def _overlap(a, b) -> bool:
    """Two scopes can meet on one list: each of placement, category and context item equal or empty in one."""
    return all(x == y or not x or not y for x, y in (
        (a.placement, b.placement), (a.category, b.category), (a.context_item_id, b.context_item_id)))


def _touches(draft, other) -> str:
    if draft.item_id and draft.item_id == other.item_id:
        return f"both are about {draft.item_id}"
    if draft.kind == RuleKind.PIN and other.kind == RuleKind.PIN and draft.position == other.position:
        return f"both pin position {draft.position}"
    if draft.item_category and draft.item_category == other.item_category:
        return f"both target category {draft.item_category}"
    return ""


def change_set_conflicts(*, change_set: ChangeSet) -> list[Conflict]:
    """Rules outside the set whose latest history record (created, changed or deleted) is newer than the
    set and that touch a draft's item, category or pin position in an overlapping scope."""
    drafts = list(change_set.rules.order_by("pk"))
    if not drafts:
        return []
    latest: dict[int, object] = {}
    records = (Rule.history.filter(history_date__gt=change_set.created_at)
               .exclude(id__in=[d.pk for d in drafts]).order_by("history_date", "history_id"))
    for record in records:
        latest[record.id] = record  # the last record per rule wins
    conflicts = []
    for record in latest.values():
        for draft in drafts:
            why = _touches(draft, record) if _overlap(draft, record) else ""
            if why:
                conflicts.append(Conflict(rule_id=record.id, title=record.instance.title,
                                          change=HISTORY_CHANGE.get(record.history_type, "changed"),
                                          changed_at=record.history_date, changed_by=record.updated_by,
                                          draft_id=draft.pk, why=why))
                break
    return sorted(conflicts, key=lambda c: c.changed_at)


def change_set_open_for(*, author) -> ChangeSet | None:
    return ChangeSet.objects.filter(author=author, status="open").first()


def change_set_drafts(*, change_set: ChangeSet | None) -> list[Rule]:
    if change_set is None:
        return []
    return list(change_set.rules.select_related("item").order_by("pk"))


# --- the merchandiser's landing page ----------------------------------------------------------------
