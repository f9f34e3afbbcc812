"""Shoppers' explicit feedback ("not interested", reports) and the curators' review decisions."""
from django.db import models

from recsys.catalog.models import Item, Shopper
from recsys.core.limits import ID_MAX_LENGTH, RECOMMENDATION_ID_MAX_LENGTH


class FeedbackType(models.TextChoices):
    NOT_INTERESTED = "not_interested"
    REPORT = "report"


class ReviewDecision(models.Model):
    """One curator decision on the reports of an item: the audit trail of the review queue."""

    class Action(models.TextChoices):
        BLOCK = "block", "blocked (block rule created)"
        ANNOTATE = "annotate", "annotated"
        DISMISS = "dismiss", "dismissed"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="review_decisions")
    action = models.CharField(max_length=16, choices=Action.choices)
    note = models.CharField(max_length=500, blank=True, default="", help_text="Annotation label or the reason.")
    decided_by = models.CharField(
        max_length=150, help_text="Admin username (kept as text so the audit outlives the account)."
    )
    decided_at = models.DateTimeField(auto_now_add=True)
    report_count = models.PositiveIntegerField(default=0, help_text="Open reports this decision closed.")
    rule_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The curation rule it created (block or annotation), if any."
    )

    class Meta:
        ordering = ["-decided_at"]

    def __str__(self) -> str:
        return f"{self.action} {self.item_id} by {self.decided_by}"


class Feedback(models.Model):
    """A shopper's explicit feedback on an item. Reports wait in the review queue until decided."""

    class Status(models.TextChoices):
        OPEN = "open"  # a report waiting for a curator
        DECIDED = "decided"  # a curator acted (see `decision`)
        NONE = "none"  # "not interested" needs no review

    shopper = models.ForeignKey(Shopper, on_delete=models.CASCADE, related_name="feedback")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="feedback")
    type = models.CharField(max_length=16, choices=FeedbackType.choices)
    comment = models.TextField(blank=True, default="", max_length=2000)
    recommendation_id = models.CharField(
        max_length=RECOMMENDATION_ID_MAX_LENGTH, blank=True, default="",
        help_text="The served list the feedback was given on, if known.",
    )
    feedback_id = models.CharField(
        max_length=ID_MAX_LENGTH, null=True, blank=True, unique=True,
        help_text="The sender's idempotency key: a retried report with the same feedback_id is stored once.",
    )
    status = models.CharField(max_length=8, choices=Status.choices, db_index=True)
    decision = models.ForeignKey(
        ReviewDecision, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["shopper", "type"], name="feedback_shopper_type"),
            models.Index(fields=["type", "status", "item"], name="feedback_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.type} on {self.item_id}"
