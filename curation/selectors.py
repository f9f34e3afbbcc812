"""Reads of curation rules: for serving (engine dataclasses), the API and the admin preview."""
from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet

from recsys.analytics.rule_impact import RuleImpact, rule_impacts
from recsys.analytics.selectors import rule_arm_counts

from . import rules as engine
from .models import Rule, RulesStamp


def rule_list(*, kind: str | None = None) -> QuerySet[Rule]:
    qs = Rule.objects.all()
    return qs.filter(kind=kind) if kind else qs


def rules_for_serving(*, now: datetime) -> list[engine.Rule]:
    """Enabled rules not yet expired; windows are checked per request (expiry needs no write)."""
    qs = Rule.objects.filter(enabled=True).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    return [rule.to_engine() for rule in qs.order_by("id")]


def rules_for_preview() -> list[engine.Rule]:
    """Every rule, enabled or not, in or out of its window: the preview's `now` and switches decide."""
    return [rule.to_engine() for rule in Rule.objects.order_by("id")]


def rules_stamp_version() -> int:
    version = RulesStamp.objects.filter(pk=1).values_list("version", flat=True).first()
    return version or 0


def rule_impacts_measured(*, start: datetime | None = None, end: datetime | None = None,
                          rule_ids: list[int] | None = None) -> dict[int, RuleImpact]:
    """Every rule with a holdout (or the rules named), measured against its holdout; verdicts are
    controlled across them all (one false-discovery rate)."""
    ids = rule_ids if rule_ids is not None else list(
        Rule.objects.filter(holdout_share__gt=0).values_list("pk", flat=True))
    counts = rule_arm_counts(rule_ids=ids, start=start, end=end) if ids else {}
    return rule_impacts({rid: counts[rid] for rid in ids}, mde=settings.RULE_MDE, fdr=settings.RULE_FDR)
