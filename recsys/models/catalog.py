from django.db import models

ID_MAX_LENGTH = 128


class Item(models.Model):
    """A catalog item, known to the outside world by its `item_id`."""

    item_id = models.CharField(max_length=ID_MAX_LENGTH, unique=True, help_text="The shop's own id (SKU).")
    title = models.CharField(max_length=500)
    category = models.CharField(max_length=200, blank=True, default="", db_index=True)
    url = models.CharField(max_length=2000, blank=True, default="")
    image_url = models.CharField(max_length=2000, blank=True, default="")
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True, help_text="Free-form attributes, e.g. brand.")
    available = models.BooleanField(default=True, db_index=True, help_text="Unavailable items are never recommended.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item_id"]

    def __str__(self) -> str:
        return f"{self.item_id} · {self.title}"
