from django.db import models

from .catalog import ID_MAX_LENGTH, Item


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


class EventType(models.TextChoices):
    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    RATING = "rating"


class Event(models.Model):
    """One interaction. `event_id` is the idempotency key (sent, or derived from content)."""

    event_id = models.CharField(max_length=ID_MAX_LENGTH, help_text="Unique (see Meta.constraints).")
    # No database FK constraints (db_constraint=False): the per-row checks were the largest single
    # cost of a bulk insert (~45% of the server's CPU per inserted event, measured). Integrity is kept
    # by the only writer (recsys.services.ingest.EventWriter): it resolves every shopper and item pk
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
    recommendation_id = models.CharField(max_length=64, blank=True, default="",
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
