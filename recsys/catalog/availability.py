"""The catalog's unavailable items as serving sees them: one set per process, reloaded when the catalog
stamp moves (recsys.ops.stamps, as the rules are), so a list needs no availability query of its own.

Every write that can change an item's availability calls `availability_changed()` inside its transaction
(item upserts that send `available`, the admin's item form and actions, the demo loader): every process
drops the item within CURIO_CURATION_CHECK_SECONDS (0.5 s), this one at once.
"""
from __future__ import annotations

from django.conf import settings

from recsys.catalog.models import CatalogStamp, Item
from recsys.ops.stamps import Stamp, StampedValue

STAMP_KEY = "catalog:availability-stamp"


def _stamp_version() -> int:
    return CatalogStamp.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def _unavailable_now() -> frozenset[str]:
    return frozenset(Item.objects.filter(available=False).values_list("item_id", flat=True))


_unavailable: StampedValue[frozenset[str]] = StampedValue(
    Stamp(STAMP_KEY, _stamp_version), load=_unavailable_now,
    interval=lambda: settings.CURATION_RULES_CHECK_SECONDS, empty=frozenset())


def unavailable_items() -> frozenset[str]:
    """Every unavailable item of the catalog (per-process, at most a stamp check old)."""
    return _unavailable.get()


def availability_changed() -> None:
    """Bump the catalog stamp in the current transaction; after commit every process reloads."""
    _unavailable.bump(CatalogStamp)


def invalidate() -> None:
    _unavailable.invalidate()
