"""Catalog writes outside ingestion: items' availability from the admin; the error for an unknown shopper."""
from __future__ import annotations

from django.db import transaction

from recsys.catalog.availability import availability_changed
from recsys.catalog.models import Item
from recsys.core.errors import NotFound


@transaction.atomic
def items_availability_set(*, item_pks: list[int], available: bool) -> int:
    """Mark items (un)available; every serving process drops or takes them back within a second."""
    changed = Item.objects.filter(pk__in=item_pks).update(available=available)
    availability_changed()
    return changed


class ShopperNotFound(NotFound):
    """No such shopper (merge, export, erasure): the API answers 404 with the message."""
