"""Erasure receipts: what was erased, never whose."""
from django.db import models


class ErasureReceipt(models.Model):
    """Proof that a shopper's data was erased: counts and a keyed hash, never the id in clear."""

    user_hash = models.CharField(max_length=64, db_index=True)
    counts = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"erasure {self.user_hash[:12]} at {self.created_at:%Y-%m-%d %H:%M}"
