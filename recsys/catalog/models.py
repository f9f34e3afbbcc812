"""The catalog: items, shoppers (and ids merged into them) and the events that join them."""
from django.db import models

from recsys.core.limits import (
    CATEGORY_MAX_LENGTH,
    ID_MAX_LENGTH,
    RECOMMENDATION_ID_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    URL_MAX_LENGTH,
)
from recsys.ml.events import EVENT_TYPES


class Item(models.Model):
    """A catalog item, known to the outside world by its `item_id`."""

    item_id = models.CharField(max_length=ID_MAX_LENGTH, unique=True, help_text="The shop's own id (SKU).")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    category = models.CharField(max_length=CATEGORY_MAX_LENGTH, blank=True, default="", db_index=True)
    url = models.CharField(max_length=URL_MAX_LENGTH, blank=True, default="")
    image_url = models.CharField(max_length=URL_MAX_LENGTH, blank=True, default="")
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True, help_text="Free-form attributes, e.g. brand.")
    available = models.BooleanField(default=True, db_index=True, help_text="Unavailable items are never recommended.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item_id"]

    def __str__(self) -> str:
        return f"{self.item_id} · {self.title}"

class Shopper(models.Model):
    """A shopper known only by the shop's opaque `user_id`: no personal data is stored."""

    user_id = models.CharField(max_length=ID_MAX_LENGTH, unique=True)
    personalization_consent = models.BooleanField(
        default=True, help_text="Off: lists are not personalized and events are left out of training."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id"]

    def __str__(self) -> str:
        return self.user_id


class ShopperAlias(models.Model):
    """An id merged into a shopper (an anonymous session after login), so a retried batch sent under
    the old id is recognised as already stored rather than as a clash."""

    alias_user_id = models.CharField(max_length=ID_MAX_LENGTH, unique=True)
    shopper = models.ForeignKey(Shopper, on_delete=models.CASCADE, related_name="aliases")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.alias_user_id} -> {self.shopper_id}"


# The choices come from the one event vocabulary (recsys.ml.events): EventType.PURCHASE == "purchase".
EventType = models.TextChoices("EventType", [(name.upper(), name) for name in EVENT_TYPES])


class Event(models.Model):
    """One interaction. `event_id` is the idempotency key (sent, or derived from content)."""

    event_id = models.CharField(max_length=ID_MAX_LENGTH, help_text="Unique (see Meta.constraints).")
    # No database FK constraints (db_constraint=False): the per-row checks were the largest single
    # cost of a bulk insert (~45% of the server's CPU per inserted event, measured). Integrity is kept
    # by the only writer (recsys.ingest.services.EventWriter): it resolves every shopper and item pk
    # in the writing transaction and, on PostgreSQL, locks those rows FOR KEY SHARE as the FK check
    # would (SQLite writers hold the database lock); deletions go through the ORM, which cascades in
    # Python (Django never relies on ON DELETE CASCADE), and erasure locks the shopper FOR UPDATE first.
    # No shopper index of its own: event_shopper_time starts with shopper_id and serves those lookups.
    shopper = models.ForeignKey(Shopper, on_delete=models.CASCADE, related_name="events", db_index=False,
                                db_constraint=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="events", db_constraint=False)
    type = models.CharField(max_length=16, choices=EventType.choices)
    value = models.FloatField(default=1.0)
    timestamp = models.DateTimeField()
    recommendation_id = models.CharField(max_length=RECOMMENDATION_ID_MAX_LENGTH, blank=True, default="",
                                         help_text="From a list response, for click attribution.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["shopper", "timestamp"], name="event_shopper_time"),
            models.Index(fields=["timestamp"], name="event_time"),
            # Most events carry no recommendation id: index only those that do.
            models.Index(fields=["recommendation_id"], name="event_recommendation",
                         condition=~models.Q(recommendation_id="")),
        ]
        # A constraint rather than unique=True: the same unique index, without the extra
        # LIKE-pattern index Django adds for unique CharFields on PostgreSQL (every event pays
        # for each index at insert time).
        constraints = [models.UniqueConstraint(fields=["event_id"], name="event_unique_event_id")]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.type}"


class CatalogStamp(models.Model):
    """One row whose `version` changes with every write that can change which items are unavailable:
    serving reloads its per-process set of unavailable items when it moves (recsys.catalog.availability)."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"catalog v{self.version}"


class ErasureReceipt(models.Model):
    """Proof that a shopper's data was erased: counts and a keyed hash, never the id in clear. Written by
    recsys.privacy; kept here beside the shopper records because writers below privacy read it too (impressions
    still in flight for an erased shopper are dropped: recsys.catalog.selectors.erased_since)."""

    user_hash = models.CharField(max_length=64, db_index=True)
    counts = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    model_completed_at = models.DateTimeField(
        null=True, blank=True, db_index=True,
        help_text="When the shopper's rows were cleared from every retained model version; empty while pending.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"erasure {self.user_hash[:12]} at {self.created_at:%Y-%m-%d %H:%M}"
