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


class EventType(models.TextChoices):
    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    RATING = "rating"


class Event(models.Model):
    """One interaction. `event_id` is the idempotency key (sent, or derived from content)."""

    event_id = models.CharField(max_length=ID_MAX_LENGTH, unique=True)
    shopper = models.ForeignKey(Shopper, on_delete=models.CASCADE, related_name="events")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=16, choices=EventType.choices)
    value = models.FloatField(default=1.0)
    timestamp = models.DateTimeField()
    recommendation_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["shopper", "timestamp"], name="event_shopper_time"),
            models.Index(fields=["timestamp"], name="event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.type}"
