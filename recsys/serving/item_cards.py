"""Item cards (title, category, url, image, price, attributes) cached per process.

Display fields may be up to SERVING_ITEM_CACHE_SECONDS old; availability is not a card field: it is the
catalog's per-process set of unavailable items (recsys.catalog.availability), reloaded when an
availability write moves the catalog stamp, so an item marked unavailable leaves every list within a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from django.conf import settings

from curation.rules import ItemInfo
from recsys.catalog import selectors
from recsys.ops.lru import TimedLRU


@dataclass(frozen=True)
class ItemCard:
    item_id: str
    title: str
    category: str = ""
    url: str = ""
    image_url: str = ""
    price: str | None = None
    attributes: dict = field(default_factory=dict)
    created_at: datetime | None = None  # when it joined the catalog (diversity's room for new items)

    # What the curation engine matches rules on, built once per cached card (availability is the
    # request's: one object for each answer). cached_property writes past the frozen dataclass.
    @cached_property
    def engine_info(self) -> ItemInfo:
        return ItemInfo(self.item_id, self.category, self.attributes, True, self.created_at)

    @cached_property
    def engine_info_unavailable(self) -> ItemInfo:
        return ItemInfo(self.item_id, self.category, self.attributes, False, self.created_at)

    def as_json(self) -> dict:
        return {"item_id": self.item_id, "title": self.title, "category": self.category, "url": self.url,
                "image_url": self.image_url, "price": self.price}


_MISSING = object()


class CardCache:
    """Cards by item id (None: no such item) in the one bounded cache (recsys.ops.lru)."""

    def __init__(self):
        self._cards = TimedLRU(settings.SERVING_ITEM_CACHE_SIZE, lambda: settings.SERVING_ITEM_CACHE_SECONDS)

    def clear(self) -> None:
        self._cards.clear()

    def get_one(self, item_id: str) -> ItemCard | None:
        return self.get_many([item_id]).get(item_id)

    def get_many(self, item_ids) -> dict[str, ItemCard]:
        """Cards of the known items among `item_ids`: one query for the ones not cached (or too old), else none."""
        out: dict[str, ItemCard] = {}
        missing = []
        for item_id in item_ids:
            card = self._cards.get(item_id, _MISSING)
            if card is _MISSING:
                missing.append(item_id)
            elif card is not None:
                out[item_id] = card
        if missing:
            found = {row["item_id"]: _card(row) for row in selectors.item_cards(item_ids=missing)}
            for item_id in missing:
                self._cards.put(item_id, found.get(item_id))
            out.update(found)
        return out


def _card(row: dict) -> ItemCard:
    price = row["price"]
    return ItemCard(item_id=row["item_id"], title=row["title"], category=row["category"] or "",
                    url=row["url"] or "", image_url=row["image_url"] or "",
                    price=None if price is None else f"{price:.2f}", attributes=row["attributes"] or {},
                    created_at=row.get("created_at"))


_cache = CardCache()


def item_cards(item_ids) -> dict[str, ItemCard]:
    return _cache.get_many(item_ids)


def item_card(item_id: str) -> ItemCard | None:
    """One card (None: no such item), for a lookup the engine makes one item at a time."""
    return _cache.get_one(item_id)


def clear_cache() -> None:
    _cache.clear()
