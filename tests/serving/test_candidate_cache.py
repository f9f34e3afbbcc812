"""The per-category candidate cache (recsys/serving/candidates.py) is a bounded LRU: a request can name any
category, so the cache must not grow with every new one."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from recsys.models import Item
from recsys.serving import candidates


@dataclass
class _Model:  # the two things category_cols reads from a LoadedModel
    version: int
    cols: dict

    def item_col(self, item_id):
        return self.cols.get(item_id)


@pytest.fixture
def small_cache(monkeypatch):
    cache = candidates.TimedLRU(3, lambda: candidates.CATEGORY_CACHE_SECONDS)
    monkeypatch.setattr(candidates, "_category_cache", cache)
    return cache


@pytest.mark.django_db
def test_category_columns_are_cached_in_a_bounded_lru(small_cache, django_assert_num_queries):
    Item.objects.bulk_create([Item(item_id=f"i{n}", title="t", category=f"c{n % 2}") for n in range(4)])
    model = _Model(version=1, cols={"i0": 0, "i1": 1, "i2": 2})
    assert candidates.category_cols(model, "c0").tolist() == [0, 2]
    with django_assert_num_queries(0):  # a hit
        assert candidates.category_cols(model, "c0").tolist() == [0, 2]
    candidates.category_cols(model, "c1")
    candidates.category_cols(model, "nope")
    candidates.category_cols(model, "c0")  # used again: "c1" is now the least recently used
    candidates.category_cols(model, "new")
    assert list(small_cache) == [(1, "nope"), (1, "c0"), (1, "new")]
    for n in range(100):  # any string a request names: never more than the bound
        candidates.category_cols(model, f"x{n}")
    assert len(small_cache) == 3
    newer = _Model(version=2, cols={"i1": 0})
    assert candidates.category_cols(newer, "c1").tolist() == [0]  # per model version
    assert len(small_cache) == 3


def test_the_default_bound():
    assert candidates._category_cache.maxsize == candidates.CATEGORY_CACHE_MAX == 256
