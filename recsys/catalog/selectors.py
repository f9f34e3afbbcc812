"""Catalog reads: item display cards, fresh availability, items of a category, popularity counts; which
shoppers were erased since when."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Q

from recsys.catalog.models import ErasureReceipt, Event, Item
from recsys.ml import artifact_erasure

CARD_FIELDS = ("item_id", "title", "category", "url", "image_url", "price", "attributes", "available", "created_at")


def item_cards(*, item_ids: list[str]) -> list[dict]:
    if not item_ids:
        return []
    return list(Item.objects.filter(item_id__in=item_ids).values(*CARD_FIELDS))


def item_ids_in_category(*, category: str) -> list[str]:
    """Availability is left to the per-request check, so this may be cached."""
    return list(Item.objects.filter(category=category).values_list("item_id", flat=True))


def event_counts_by_item(*, windows: list[datetime], exclude_user_prefix: str = "") -> list[tuple]:
    """(item_id, category, event type, count since windows[0], since windows[1], ...) for
    available items with events since the oldest window: one grouped query. `exclude_user_prefix`
    leaves out the events of shoppers whose ids start with it (demo shoppers outside demo mode)."""
    oldest = min(windows)
    sums = {f"n{i}": Count("id", filter=Q(timestamp__gte=w)) for i, w in enumerate(windows)}
    events = Event.objects.filter(timestamp__gte=oldest, item__available=True)
    if exclude_user_prefix:
        events = events.exclude(shopper__user_id__startswith=exclude_user_prefix)
    return list(
        events
        .values("item__item_id", "item__category", "type")
        .annotate(**sums)
        .values_list("item__item_id", "item__category", "type", *sums)
    )


def newest_items(*, category: str = "", limit: int) -> list[tuple[str, str]]:
    """(item_id, category) of the newest available items: the tail when few items have events."""
    qs = Item.objects.filter(available=True)
    if category:
        qs = qs.filter(category=category)
    return list(qs.order_by("-created_at", "-id").values_list("item_id", "category")[:limit])


def erasure_key(user_id: str) -> str:
    """The erasure receipts' key for a shopper: a keyed hash, never the id in clear."""
    return artifact_erasure.user_hash(user_id, settings.SECRET_KEY)


def erased_since(user_ids: set[str]) -> dict[str, object]:
    """{user_id: time of its latest erasure} for those of `user_ids` that were erased."""
    if not user_ids:
        return {}
    by_hash = {erasure_key(u): u for u in user_ids if u}
    out: dict[str, object] = {}
    for h, at in ErasureReceipt.objects.filter(user_hash__in=list(by_hash)).values_list("user_hash", "created_at"):
        u = by_hash[h]
        out[u] = max(at, out.get(u, at))
    return out


def content_fingerprint(texts: list[tuple]) -> str:
    """What a content index is built from, as one hash of the items' content fields (`item_texts()`): a new item or
    a changed title, category or attribute moves it; a price or availability update does not (no rebuild)."""
    digest = hashlib.sha256()
    for item_id, title, category, attributes, _created in texts:
        digest.update(json.dumps([item_id, title, category, attributes], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def item_texts() -> list[tuple]:
    """(item_id, title, category, attributes, created_at) of every item, by item id: the content index's input."""
    return list(Item.objects.order_by("item_id").values_list("item_id", "title", "category", "attributes",
                                                             "created_at"))


def available_item_ages() -> list[tuple]:
    """(item_id, created_at) of every available item."""
    return list(Item.objects.filter(available=True).values_list("item_id", "created_at"))
