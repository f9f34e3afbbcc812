"""The merchandiser's landing panel: rules live now, starting or ending this week, those whose holdout says
they help or hurt, and the most urgent open suggestions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from curation.models import Rule
from recsys.analytics.selectors import rule_impacts_measured
from recsys.suggestions.models import Suggestion
from recsys.suggestions.selectors import suggestion_list


@dataclass(frozen=True)
class Landing:
    live: list[Rule]
    starting: list[Rule]
    ending: list[Rule]
    known: list[tuple[Rule, object]]  # (rule, RuleImpact) with a verdict helps or hurts
    live_count: int
    suggestions: list[Suggestion]  # the most urgent open ones
    suggestion_count: int


def merchandising_landing(*, now: datetime, days: int = 7, limit: int = 20) -> Landing:
    """What a merchandiser checks first: rules live now, starting or ending within `days`, known verdicts."""
    soon = now + timedelta(days=days)
    enabled = Rule.objects.filter(enabled=True).select_related("item")
    live = enabled.filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now)).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    starting = enabled.filter(starts_at__gt=now, starts_at__lte=soon).order_by("starts_at")
    ending = live.filter(ends_at__gt=now, ends_at__lte=soon).order_by("ends_at")
    impacts = {rid: i for rid, i in rule_impacts_measured().items() if i.verdict in ("helps", "hurts")}
    known_rules = Rule.objects.in_bulk(list(impacts))
    known = [(known_rules[rid], impacts[rid]) for rid in sorted(impacts) if rid in known_rules]
    open_suggestions = suggestion_list(status="open")
    return Landing(live=list(live.order_by("-updated_at")[:limit]), starting=list(starting[:limit]),
                   ending=list(ending[:limit]), known=known, live_count=live.count(),
                   suggestions=list(open_suggestions[:5]), suggestion_count=open_suggestions.count())
