"""Popular lists weigh event types as training does (TRAINING_EVENT_WEIGHTS / CURIO_WEIGHT_*); their
per-category tails are a bounded LRU."""
from __future__ import annotations

import pytest

from recsys.serving import popular
from recsys.serving.popular import popular_items
from tests.factories import event, items
from tests.serving_world import reset_serving_caches


@pytest.mark.django_db
@pytest.mark.parametrize("purchase_weight, first", [(8.0, "bought"), (0.5, "viewed")])
def test_popular_ranking_uses_the_training_type_weights(settings, purchase_weight, first):
    items("viewed", "bought")
    for user in ("u1", "u2", "u3"):
        event(user, "viewed", "view")
    event("u4", "bought", "purchase")
    settings.TRAINING_EVENT_WEIGHTS = {**settings.TRAINING_EVENT_WEIGHTS, "purchase": purchase_weight}
    reset_serving_caches()
    try:
        ranked = [item_id for item_id, _ in popular_items(n=2)]
        assert ranked[0] == first and set(ranked) == {"viewed", "bought"}  # 3 views vs 1 purchase
    finally:
        reset_serving_caches()


@pytest.mark.django_db
def test_per_category_tails_are_a_bounded_lru(monkeypatch):
    monkeypatch.setattr(popular, "TAIL_CACHE_MAX", 3)
    cache = popular.PopularCache()
    for category in ("a", "b", "c"):
        cache.tail(category)
    cache.tail("a")  # used again: "b" is now the least recently used
    for category in ("d", "e"):
        cache.tail(category)
    assert list(cache._tails) == ["a", "d", "e"]
    for n in range(100):  # a request can name any category: the cache never grows past the bound
        cache.tail(f"x{n}")
    assert len(cache._tails) == 3


@pytest.mark.django_db(transaction=True)  # the refresh thread reads through its own connection
def test_a_stale_ranking_is_served_while_the_background_refresh_brings_the_new_one(settings):
    items("old-hit", "new-hit")
    event("u1", "old-hit", "purchase")
    reset_serving_caches()
    try:
        assert popular_items(n=1)[0][0] == "old-hit"  # the process's first ranking: computed by the caller
        for user in ("u2", "u3", "u4"):
            event(user, "new-hit", "purchase")
        assert popular_items(n=1)[0][0] == "old-hit"  # fresh: kept
        settings.SERVING_POPULAR_CACHE_SECONDS = 0
        assert popular_items(n=1)[0][0] == "old-hit"  # stale: served as it is, a refresh started
        popular._cache._ranking.wait(10)
        settings.SERVING_POPULAR_CACHE_SECONDS = 300
        assert popular_items(n=1)[0][0] == "new-hit"
    finally:
        reset_serving_caches()
