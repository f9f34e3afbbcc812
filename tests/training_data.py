"""Synthetic shop data for training tests: clustered tastes and power-law popularity."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from recsys.models import Event, Item, Shopper

TYPES = ["view", "view", "view", "click", "click", "add_to_cart", "purchase"]


def make_shop(*, shoppers: int = 300, items: int = 120, clusters: int = 6, events_per_shopper: int = 25,
              seed: int = 0, structured: bool = True, prefix: str = "") -> dict:
    """Shoppers mostly interact inside their taste cluster (structured=True) or uniformly at random."""
    rng = np.random.default_rng(seed)
    Item.objects.bulk_create([Item(item_id=f"{prefix}i{j}", title=f"Item {j}", category=f"c{j % clusters}")
                              for j in range(items)])
    Shopper.objects.bulk_create([Shopper(user_id=f"{prefix}u{u}") for u in range(shoppers)])
    item_pk = dict(Item.objects.filter(item_id__startswith=f"{prefix}i").values_list("item_id", "pk"))
    shopper_pk = dict(Shopper.objects.filter(user_id__startswith=f"{prefix}u").values_list("user_id", "pk"))
    now = timezone.now()
    popularity = 1.0 / np.arange(1, items + 1) ** 0.6
    events = []
    for u in range(shoppers):
        cluster = u % clusters
        if structured:
            own = np.arange(cluster, items, clusters)
            p = popularity[own] / popularity[own].sum()
            picks = rng.choice(own, size=events_per_shopper, p=p)
        else:
            picks = rng.integers(0, items, size=events_per_shopper)
        for n, j in enumerate(picks):
            events.append(Event(
                event_id=f"{prefix}e{u}-{n}", shopper_id=shopper_pk[f"{prefix}u{u}"], item_id=item_pk[f"{prefix}i{j}"],
                type=TYPES[rng.integers(0, len(TYPES))], value=1.0,
                timestamp=now - timedelta(days=float(rng.uniform(0, 60))),
            ))
    Event.objects.bulk_create(events, batch_size=5000)
    return {"shoppers": shoppers, "items": items, "events": len(events)}


def make_popularity_shop(*, shoppers: int = 300, items: int = 120, events_per_shopper: int = 15, seed: int = 1) -> dict:
    """Every shopper picks by global popularity only (strong popularity, no personal taste)."""
    rng = np.random.default_rng(seed)
    Item.objects.bulk_create([Item(item_id=f"p{j}", title=f"Item {j}") for j in range(items)])
    Shopper.objects.bulk_create([Shopper(user_id=f"pu{u}") for u in range(shoppers)])
    item_pk = dict(Item.objects.values_list("item_id", "pk"))
    shopper_pk = dict(Shopper.objects.values_list("user_id", "pk"))
    p = 1.0 / np.arange(1, items + 1) ** 1.2
    p /= p.sum()
    now = timezone.now()
    events = [
        Event(event_id=f"pe{u}-{n}", shopper_id=shopper_pk[f"pu{u}"], item_id=item_pk[f"p{j}"], type="purchase",
              value=1.0, timestamp=now - timedelta(days=1))
        for u in range(shoppers) for n, j in enumerate(rng.choice(items, size=events_per_shopper, p=p))
    ]
    Event.objects.bulk_create(events, batch_size=5000)
    return {"shoppers": shoppers, "items": items, "events": len(events)}


# Small, fast candidates: enough to exercise selection (one ALS, one item-item) in seconds.
FAST_CANDIDATES = [
    {"kind": "als", "factors": 16, "regularization": 0.05, "alpha": 2.0, "iterations": 8},
    {"kind": "bm25", "K": 50, "K1": 1.2, "B": 0.75},
]


def fast_training_settings(settings, tmp_path, **overrides):
    """Point training at a fresh MODEL_DIR with one thread and FAST_CANDIDATES; `overrides` set more."""
    settings.MODEL_DIR = tmp_path / "models"
    settings.TRAINING_NUM_THREADS = 1
    settings.TRAINING_CANDIDATES = FAST_CANDIDATES
    for name, value in overrides.items():
        setattr(settings, name, value)
    return settings
