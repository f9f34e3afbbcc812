"""Item cards (title, category, url, image, price, attributes) cached per process.

Display fields may be up to SERVING_ITEM_CACHE_SECONDS old; availability is not a card field: it is the
catalog's per-process set of unavailable items (recsys.catalog.availability), reloaded when an
availability write moves the catalog stamp, so an item marked unavailable leaves every list within a second.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from django.conf import settings

from curation.rules import ItemInfo
from recsys.catalog import selectors as item_selectors


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


class CardCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._cards: dict[str, tuple[float, ItemCard | None]] = {}

    def clear(self) -> None:
        with self._lock:
            self._cards = {}

    def get_one(self, item_id: str) -> ItemCard | None:
        """A fresh cached card straight from the cache (one dict lookup), else as `get_many`."""
        hit = self._cards.get(item_id)
        if hit is not None and time.monotonic() - hit[0] < settings.SERVING_ITEM_CACHE_SECONDS:
            return hit[1]
        return self.get_many([item_id]).get(item_id)

    def get_many(self, item_ids) -> dict[str, ItemCard]:
        """Cards of the known items among `item_ids`: one query for the ones not cached (or too old), else none."""
        now = time.monotonic()
        ttl = settings.SERVING_ITEM_CACHE_SECONDS
        out: dict[str, ItemCard] = {}
        missing = []
        cards = self._cards
        for item_id in item_ids:
            hit = cards.get(item_id)
            if hit is not None and now - hit[0] < ttl:
                if hit[1] is not None:
                    out[item_id] = hit[1]
            else:
                missing.append(item_id)
        if missing:
            found = {row["item_id"]: _card(row) for row in item_selectors.item_cards(item_ids=missing)}
            with self._lock:
                if len(self._cards) + len(missing) > settings.SERVING_ITEM_CACHE_SIZE:
                    self._cards = {}  # crude bound: the hot items come back on the next requests
                for item_id in missing:
                    self._cards[item_id] = (now, found.get(item_id))
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
