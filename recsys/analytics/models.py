"""Served impressions: one row per item shown at one position of one served list.

Impressions keep the shopper's `user_id` as plain text (not a foreign key): lists are served
to shoppers who have no row yet, and erasure deletes them by that id.
"""
from django.db import models

from recsys.catalog.models import Item
from recsys.core.limits import ID_MAX_LENGTH, RECOMMENDATION_ID_MAX_LENGTH


class Impression(models.Model):
    """One item shown at one position of one served list."""

    recommendation_id = models.CharField(max_length=RECOMMENDATION_ID_MAX_LENGTH)
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
            # Exploration's damping counts the `new` impressions of the last 30 days (serving's popular cache): a
            # partial index, so it reads only those rows and other impressions cost no extra index write.
            models.Index(fields=["created_at"], name="impression_new_time", condition=models.Q(source="new")),
        ]

    def __str__(self) -> str:
        return f"{self.recommendation_id}#{self.position} {self.item_id}"


class RuleImpression(models.Model):
    """An impression on a list position a curation rule touched, for measuring that rule alone.

    `exposed`: the rule acted on the item shown there (pinned, boosted or buried, labelled).
    `holdout`: the shopper was held out of the rule, and this is what was shown at a position the rule
    would have filled (the engine works that out). Clicks and purchases are attributed as for
    Impression (same recommendation id and item).
    """

    class Arm(models.TextChoices):
        EXPOSED = "exposed"
        HOLDOUT = "holdout"

    rule_id = models.PositiveBigIntegerField()
    arm = models.CharField(max_length=8, choices=Arm.choices)
    recommendation_id = models.CharField(max_length=RECOMMENDATION_ID_MAX_LENGTH)
    position = models.PositiveSmallIntegerField()
    # No database FK constraint, as on Impression (same writer, same locking).
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    user_id = models.CharField(max_length=ID_MAX_LENGTH, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["rule_id", "arm", "created_at"], name="rule_impression_rule"),
            models.Index(fields=["recommendation_id", "item"], name="rule_impression_rec_item"),
            models.Index(fields=["user_id"], name="rule_impression_user"),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} {self.arm}: {self.recommendation_id}#{self.position}"
