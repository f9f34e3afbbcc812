"""Trust data: shopper feedback and the curators' review decisions, served impressions, erasure receipts.

Impressions keep the shopper's `user_id` as plain text (not a foreign key): lists are served
to shoppers who have no row yet, and erasure deletes them by that id.
"""
from django.db import models

from .catalog import ID_MAX_LENGTH, Item
from .events import Shopper


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
        max_length=64, blank=True, default="", help_text="The served list the feedback was given on, if known."
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


class Impression(models.Model):
    """One item shown at one position of one served list."""

    recommendation_id = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField(help_text="1-based rank in the list.")
    # No database FK constraint, as on Event: the per-row check was most of the server's CPU for an
    # impression insert. The only writer (services.impressions) joins the catalog and locks those
    # item rows FOR KEY SHARE, as the check would; deletions cascade in the ORM.
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    source = models.CharField(max_length=16, help_text="model, pinned, boosted or popular")
    rule_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="The curation rule that placed it.")
    placement = models.CharField(max_length=64, blank=True, default="")
    list_type = models.CharField(max_length=16, blank=True, default="")
    model_version = models.PositiveIntegerField(null=True, blank=True)
    user_id = models.CharField(max_length=ID_MAX_LENGTH, blank=True, default="")
    is_control = models.BooleanField(default=False, help_text="Served without curation (randomized control).")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["created_at", "placement"], name="impression_time_placement"),
            models.Index(fields=["recommendation_id", "item"], name="impression_rec_item"),
            # Export and erasure find a shopper's rows. A Meta index, not db_index: on PostgreSQL that
            # adds a second (LIKE) index per row written, which nothing queries.
            models.Index(fields=["user_id"], name="impression_user"),
        ]

    def __str__(self) -> str:
        return f"{self.recommendation_id}#{self.position} {self.item_id}"


class ErasureReceipt(models.Model):
    """Proof that a shopper's data was erased: counts and a keyed hash, never the id in clear."""

    user_hash = models.CharField(max_length=64, db_index=True)
    counts = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"erasure {self.user_hash[:12]} at {self.created_at:%Y-%m-%d %H:%M}"
