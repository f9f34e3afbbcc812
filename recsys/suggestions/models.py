"""Suggestions: cases the detectors found for a merchandiser to decide, with their evidence and the decision.

One row per raising of a case (`detector` + `key`, e.g. "rule_hurts" + "rule:12"). The latest row of a case
decides whether the detectors may raise it again: an open or snoozed row is refreshed in place; a dismissed or
accepted one holds the case back until the count behind it (`strength`) reaches CURIO_SUGGEST_REOPEN_FACTOR
times the decided one, and a new row is raised. Decisions are audited (django-simple-history, as rules are).
"""
from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


class Detector(models.TextChoices):
    RULE_HURTS = "rule_hurts", "Rule hurts"
    RULE_EXPIRING = "rule_expiring", "Helpful rule expiring"
    PIN_UNAVAILABLE = "pin_unavailable", "Pinned item unavailable"
    PIN_NEVER_LANDS = "pin_never_lands", "Pin never lands"
    ITEM_REPORTED = "item_reported", "Item reported"
    UNDEREXPOSED = "underexposed", "Underexposed item"
    CONCENTRATION = "concentration", "Concentrated exposure"
    NEW_ITEM_UNSEEN = "new_item_unseen", "New item unseen"
    MODEL_REGRESSION = "model_regression", "Model regression"


class Severity(models.TextChoices):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


SEVERITY_ORDER = {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2}


class SuggestionStatus(models.TextChoices):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"
    SNOOZED = "snoozed"


def _history_user(request=None, **kwargs):
    """The admin user behind a decision; API clients are named in `decided_by` ("api:<client>") instead."""
    user = getattr(request, "user", None)
    return user if isinstance(user, AbstractBaseUser) else None


class Suggestion(models.Model):
    detector = models.CharField(max_length=32, choices=Detector.choices, db_index=True)
    key = models.CharField(max_length=300, help_text='What it is about, e.g. "rule:12", "item:sku-9", '
                                                     '"placement:home", "model:7".')
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.MEDIUM)
    title = models.CharField(max_length=300)
    why = models.CharField(max_length=500, help_text="One line: why the merchandiser should look.")
    evidence = models.JSONField(default=dict, help_text="Numbers, intervals, the period and links.")
    strength = models.FloatField(default=0.0, help_text="The count behind it (material change: it doubles).")
    proposal = models.JSONField(default=dict, blank=True,
                                help_text='What accepting does: {"action": "draft", "kind", "data"}, '
                                          '{"action": "disable", "rule_id"} or {"action": "rollback", ...}.')
    status = models.CharField(max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.OPEN,
                              db_index=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, default="", help_text="Why it was dismissed (or snoozed).")
    decided_by = models.CharField(max_length=200, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    rule_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="The rule accepting drafted or "
                                                                              "changed.")
    change_set_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    refreshed_at = models.DateTimeField(default=timezone.now, help_text="Last time a detector saw it.")

    history = HistoricalRecords(excluded_fields=["refreshed_at", "evidence"], get_user=_history_user,
                                verbose_name="suggestion decision",
                                verbose_name_plural="suggestion audit log")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["detector", "key", "created_at"], name="suggestion_case")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.detector}: {self.title}"
