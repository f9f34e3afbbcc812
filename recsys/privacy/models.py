"""Erasure receipts: what was erased, never whose."""
from django.db import models


class ErasureReceipt(models.Model):
    """Proof that a shopper's data was erased: counts and a keyed hash, never the id in clear."""

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
