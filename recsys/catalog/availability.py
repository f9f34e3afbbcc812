"""The catalog's unavailable items as serving sees them: one set per process, reloaded when the catalog
stamp moves (recsys.ops.stamps, as the rules are), so a list needs no availability query of its own.

Every write that can change an item's availability calls `availability_changed()` inside its transaction
(item upserts that send `available`, the admin's item form and actions, the demo loader): every process
drops the item within CURIO_CURATION_CHECK_SECONDS (0.5 s), this one at once.
"""
from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F

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
    if not CatalogStamp.objects.filter(pk=1).update(version=F("version") + 1):
        CatalogStamp.objects.get_or_create(pk=1, defaults={"version": 1})
    version = _stamp_version()
    _unavailable.invalidate()  # this thread sees its own write at once, even inside an outer transaction
    transaction.on_commit(lambda: _unavailable.changed(version))


def invalidate() -> None:
    _unavailable.invalidate()
