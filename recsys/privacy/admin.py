"""Admin for privacy: erasure receipts (read-only proof, no ids in clear)."""
from __future__ import annotations

from django.contrib import admin

from recsys.admin_mixins import ReadOnlyAdmin
from recsys.catalog.models import ErasureReceipt


@admin.register(ErasureReceipt)
class ErasureReceiptAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user_hash", "counts"]
    search_fields = ["=user_hash"]
