"""Writes of the suggestions inbox: run the detectors and keep the inbox in step; accept, dismiss, snooze.

Accepting turns the suggestion into a rule change a person can check before shoppers see it: a draft in the
merchandiser's change set (the board shows it; pins, boosts and annotations get a holdout so the decision is
measured), or, for a rule that hurts or cannot show anything, that rule disabled (audited in its history).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from curation.models import Rule
from curation.rules import HOLDOUT_KINDS
from curation.services import EDITABLE_FIELDS, change_set_draft, change_set_open, rules_set_enabled

from .detectors import DETECTORS, Finding, detect
from .models import Suggestion, SuggestionStatus
from .selectors import signals, suggestion_cases_latest, thresholds

# Share of shoppers held out of a rule drafted from a suggestion (the board's default), so its effect is measured.
SUGGESTED_HOLDOUT_SHARE = 0.1
SNOOZE_MAX_DAYS = 90


class SuggestionError(Exception):
    """The suggestion cannot be decided that way; the message is shown as is."""


@dataclass
class Refreshed:
    found: Counter = field(default_factory=Counter)  # detector -> cases found now
    raised: list[Suggestion] = field(default_factory=list)  # new rows (first time, or evidence changed)
    refreshed: int = 0  # open or snoozed rows updated with new evidence
    held_back: int = 0  # dismissed or accepted cases whose evidence has not changed materially
    resolved: int = 0  # open rows no detector finds any more (removed)
    findings: list[Finding] = field(default_factory=list)


def _links(evidence: dict) -> dict:
    """Evidence links named by admin URL name (the detectors are pure) as paths."""
    out = []
    for link in evidence.get("links", []):
        try:
            out.append({"label": link["label"], "url": reverse(f"admin:{link['admin']}", args=link.get("args", []))})
        except NoReverseMatch:
            continue
    return {**evidence, "links": out}


def _fields(f: Finding, now: datetime) -> dict:
    return {"severity": f.severity, "title": f.title[:300], "why": f.why[:500], "evidence": _links(f.evidence),
            "strength": f.strength, "proposal": f.proposal, "refreshed_at": now}


@transaction.atomic
def suggestions_refresh(*, now: datetime | None = None, detectors: list[str] | None = None) -> Refreshed:
    """Run the detectors (all, or those named) and bring the inbox in step with what they find."""
    now = now or timezone.now()
    t = thresholds()
    findings = detect(signals(now=now, t=t), t)
    if detectors is not None:
        findings = [f for f in findings if f.detector in detectors]
    out = Refreshed(findings=findings)
    latest = suggestion_cases_latest(keys=[(f.detector, f.key) for f in findings])
    factor = settings.SUGGEST_REOPEN_FACTOR
    for f in findings:
        out.found[f.detector] += 1
        row = latest.get((f.detector, f.key))
        if row is None or (row.status in (SuggestionStatus.DISMISSED, SuggestionStatus.ACCEPTED)
                           and f.strength >= factor * max(row.strength, 1e-9)):
            created = Suggestion(detector=f.detector, key=f.key[:300], created_at=now, **_fields(f, now))
            created._change_reason = "raised" if row is None else (
                f"raised again: evidence x{f.strength / max(row.strength, 1e-9):.1f} since #{row.pk} was {row.status}")
            created.save()
            out.raised.append(created)
        elif row.status == SuggestionStatus.OPEN:
            Suggestion.objects.filter(pk=row.pk).update(**_fields(f, now))  # evidence only: no audit record
            out.refreshed += 1
        elif row.status == SuggestionStatus.SNOOZED:
            Suggestion.objects.filter(pk=row.pk).update(**_fields(f, now))
            if row.snoozed_until is None or row.snoozed_until <= now:
                # Locked and still snoozed: a decision taken meanwhile is never overwritten.
                row = Suggestion.objects.select_for_update().filter(pk=row.pk, status=SuggestionStatus.SNOOZED).first()
                if row is not None:
                    row.status, row.snoozed_until = SuggestionStatus.OPEN, None
                    row._change_reason = "snooze ended"
                    row.save()
            out.refreshed += 1
        else:
            out.held_back += 1
    seen = {(f.detector, f.key) for f in findings}
    scope = Suggestion.objects.filter(status=SuggestionStatus.OPEN)
    if detectors is not None:
        scope = scope.filter(detector__in=detectors)
    for row in scope.select_for_update():  # locked: a row decided meanwhile is not open any more, and stays
        if (row.detector, row.key) not in seen:  # never decided, and the case is gone: nothing to keep
            row._change_reason = "resolved: no detector finds it any more"
            row.delete()
            out.resolved += 1
    return out


# --- decisions ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Accepted:
    suggestion: Suggestion
    rule_id: int | None
    change_set_id: int | None


def _locked_open(suggestion: Suggestion) -> Suggestion:
    row = Suggestion.objects.select_for_update().get(pk=suggestion.pk)
    if row.status not in (SuggestionStatus.OPEN, SuggestionStatus.SNOOZED):
        raise SuggestionError(f"Suggestion #{row.pk} is already {row.status}.")
    return row


def _decide(row: Suggestion, *, status: str, actor: str, reason: str, change: str) -> Suggestion:
    row.status, row.decided_by, row.decided_at, row.reason = status, actor, timezone.now(), reason
    row._change_reason = change[:100]
    row.save()
    return row


def _draft(row: Suggestion, *, author, actor: str, now: datetime) -> Rule:
    proposal = row.proposal
    change_set = change_set_open(author=author)
    why = f"Suggestion #{row.pk} ({row.detector}): {row.why}"
    if proposal["action"] == "extend":
        rule = Rule.objects.filter(pk=proposal["rule_id"]).first()
        if rule is None or rule.ends_at is None:
            raise SuggestionError(f"Rule #{proposal['rule_id']} is gone or no longer ends: nothing to extend.")
        data = {name: getattr(rule, name) for name in EDITABLE_FIELDS if name != "enabled"}
        data.update(name=f"{rule.title} (extended)"[:200], starts_at=rule.ends_at, reason=why,
                    ends_at=rule.ends_at + timedelta(days=proposal.get("days", 30)))
        return change_set_draft(change_set=change_set, kind=rule.kind, data=data, actor=actor)
    kind, data = proposal["kind"], {**proposal["data"], "reason": why}
    if kind in HOLDOUT_KINDS:
        data["holdout_share"] = SUGGESTED_HOLDOUT_SHARE
    if proposal.get("days"):  # a trial: it ends by itself
        data.update(starts_at=now, ends_at=now + timedelta(days=proposal["days"]))
    return change_set_draft(change_set=change_set, kind=kind, data=data, actor=actor)


@transaction.atomic
def suggestion_accept(*, suggestion: Suggestion, author, actor: str) -> Accepted:
    """Act on the suggestion: a draft in `author`'s change set, or the hurting rule disabled. Raises
    SuggestionError when it is already decided or asks for something no rule does (a model rollback);
    django ValidationError when the drafted rule is invalid (its item is gone)."""
    row = _locked_open(suggestion)
    now = timezone.now()
    action = row.proposal.get("action")
    change_set_id = None
    if action in ("draft", "extend"):
        rule = _draft(row, author=author, actor=actor, now=now)
        change_set_id = rule.change_set_id
    elif action == "disable":
        rule = Rule.objects.filter(pk=row.proposal["rule_id"]).first()
        if rule is None:
            raise SuggestionError(f"Rule #{row.proposal['rule_id']} no longer exists.")
        rules_set_enabled(rules=[rule], enabled=False, actor=f"{actor} (suggestion #{row.pk})")
    elif action == "rollback":
        raise SuggestionError(
            f"A model is rolled back by activating version {row.proposal['version_id']} (the model versions page, "
            f"or POST /api/v1/model-versions/{row.proposal['version_id']}/activate/); then dismiss this "
            "suggestion with that reason.")
    else:
        raise SuggestionError(f"Suggestion #{row.pk} proposes nothing to accept.")
    row.rule_id, row.change_set_id = rule.pk, change_set_id
    _decide(row, status=SuggestionStatus.ACCEPTED, actor=actor, reason="",
            change=f"accepted by {actor}: rule #{rule.pk}" + (" drafted" if change_set_id else " disabled"))
    return Accepted(row, rule.pk, change_set_id)


@transaction.atomic
def suggestion_dismiss(*, suggestion: Suggestion, reason: str, actor: str) -> Suggestion:
    """Dismiss with a reason (audited); the case stays back until its evidence changes materially."""
    reason = (reason or "").strip()
    if not reason:
        raise SuggestionError("Say why you dismiss it: the reason is kept in the audit log.")
    row = _locked_open(suggestion)
    return _decide(row, status=SuggestionStatus.DISMISSED, actor=actor, reason=reason[:2000],
                   change=f"dismissed by {actor}")


@transaction.atomic
def suggestion_snooze(*, suggestion: Suggestion, days: int, actor: str, reason: str = "") -> Suggestion:
    if not isinstance(days, int) or not 1 <= days <= SNOOZE_MAX_DAYS:
        raise SuggestionError(f"Snooze for 1 to {SNOOZE_MAX_DAYS} days.")
    row = _locked_open(suggestion)
    row.snoozed_until = timezone.now() + timedelta(days=days)
    return _decide(row, status=SuggestionStatus.SNOOZED, actor=actor, reason=(reason or "").strip()[:2000],
                   change=f"snoozed {days} day(s) by {actor}")


def api_author():
    """The Django user whose change set receives drafts accepted through the API (CURIO_SUGGEST_API_AUTHOR):
    created inactive, with no password, when missing: it only owns drafts."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=settings.SUGGEST_API_AUTHOR,
                                                     defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


DETECTOR_NAMES = tuple(DETECTORS)
