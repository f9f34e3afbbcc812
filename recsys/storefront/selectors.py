"""Reads for the storefront demo page: demo shoppers with a taste summary, categories, the active model."""
from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count

from recsys.catalog.models import Event, Item, Shopper
from recsys.storefront import demo_shop
from recsys.training.models import ModelVersion

HEADLINE_METRIC = "ndcg@10"
# "auto" demo mode asks the database whether demo events are loaded; the answer is kept this long per
# process (every anonymous GET / and every popular-list rebuild ask), and dropped when the demo is loaded
# or reset in this process.
DEMO_MODE_CACHE_SECONDS = 30.0
_demo_loaded: tuple[float, bool] | None = None
_demo_lock = threading.Lock()


def demo_is_loaded() -> bool:
    """True when demo events are in the database (demo mode's default switch); cached per process."""
    global _demo_loaded
    cached = _demo_loaded
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    loaded = Event.objects.filter(event_id__startswith=demo_shop.EVENT_PREFIX).exists()
    with _demo_lock:
        _demo_loaded = (time.monotonic() + DEMO_MODE_CACHE_SECONDS, loaded)
    return loaded


def demo_mode_cache_clear() -> None:
    global _demo_loaded
    with _demo_lock:
        _demo_loaded = None


@dataclass(frozen=True)
class ShopperSummary:
    user_id: str
    events: int
    taste: str  # one line, e.g. "Kitchen, Baking and Tableware · bought 4"


@dataclass(frozen=True)
class ModelSummary:
    version: int
    kind: str
    metric: str
    value: float | None
    baseline: float | None

    @property
    def lift(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


def demo_shoppers(*, count: int = 12, pool: int = 60) -> list[ShopperSummary]:
    """The most active of the first `pool` demo shoppers, each with a one-line taste summary."""
    pool_pks = Shopper.objects.filter(user_id__startswith=demo_shop.USER_PREFIX).order_by("user_id").values("pk")[:pool]
    rows = (
        Event.objects.filter(shopper_id__in=pool_pks)  # a subquery: one round trip
        .values_list("shopper__user_id", "item__category", "type")
        .annotate(n=Count("id"))
    )
    by_category: dict[str, Counter] = defaultdict(Counter)
    bought: Counter = Counter()
    for user_id, category, type_, n in rows:
        by_category[user_id][category] += n
        if type_ == "purchase":
            bought[user_id] += n
    ranked = sorted(by_category, key=lambda u: (-sum(by_category[u].values()), u))[:count]
    return [
        ShopperSummary(u, sum(by_category[u].values()), _taste_line(by_category[u], bought[u]))
        for u in sorted(ranked)
    ]


def _taste_line(categories: Counter, bought: int) -> str:
    total = sum(categories.values())
    # Categories holding at least 15% of the shopper's events: their tastes, main one first.
    top = [c for c, n in categories.most_common(3) if n >= 0.15 * total] or [categories.most_common(1)[0][0]]
    likes = top[0] if len(top) == 1 else ", ".join(top[:-1]) + " and " + top[-1]
    return f"Into {likes} · {total} events, {bought} purchases"


def shop_categories() -> list[str]:
    return list(
        Item.objects.filter(available=True).exclude(category="").order_by("category")
        .values_list("category", flat=True).distinct()
    )


def active_model_summary() -> ModelSummary | None:
    version = ModelVersion.objects.filter(is_active=True).only("pk", "kind", "metrics", "baseline_metrics").first()
    if version is None:
        return None
    return ModelSummary(
        version=version.pk,
        kind=version.kind,
        metric=HEADLINE_METRIC,
        value=(version.metrics or {}).get(HEADLINE_METRIC),
        baseline=(version.baseline_metrics or {}).get(HEADLINE_METRIC),
    )
