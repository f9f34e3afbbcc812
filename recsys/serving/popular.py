"""Popular items: time-decayed event counts over a recent window, overall and per category.

Weights: an event in the last day counts fully, in the last week 0.5, in the window 0.2, times
the event type's weight (a purchase says more than a view). Computed with one grouped query per
process (the first list of a process waits for it), then refreshed in the background once older
than SERVING_POPULAR_CACHE_SECONDS (no list waits for that). When too few items have events, the
newest available items fill the tail, so a popular list is full whenever the catalog can fill it;
the per-category tails are an LRU of at most TAIL_CACHE_MAX categories (a category is any string a
request names, so an unbounded dict would grow with every new one). Outside demo mode, demo
shoppers' events (the public demo token's) do not count.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from recsys.analytics.selectors import new_item_impressions as stored_new_item_impressions
from recsys.catalog import selectors
from recsys.core.demo_mode import demo_mode_on
from recsys.core.limits import DEMO_USER_PREFIX
from recsys.ops.lru import TimedLRU
from recsys.ops.refreshed import Refreshed
from recsys.serving.fold_in_weights import weight_config

BUCKET_WEIGHTS = (1.0, 0.5, 0.2)  # last day, last week, whole window
TAIL = 500
TAIL_CACHE_MAX = 256  # categories whose newest-items tail is kept per process (least recently used goes first)


@dataclass
class Ranking:
    overall: list[tuple[str, float]] = field(default_factory=list)
    by_category: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def rank_counts(rows, *, type_weights: dict[str, float]) -> Ranking:
    """Pure: grouped rows (item_id, category, type, n_day, n_week, n_window) -> rankings, scores in (0, 1]."""
    scores: dict[str, float] = {}
    categories: dict[str, str] = {}
    for item_id, category, type_, n_day, n_week, n_window in rows:
        buckets = (n_day, n_week - n_day, n_window - n_week)
        value = type_weights.get(type_, 1.0) * sum(w * n for w, n in zip(BUCKET_WEIGHTS, buckets, strict=True))
        scores[item_id] = scores.get(item_id, 0.0) + value
        categories[item_id] = category
    top = max(scores.values(), default=1.0) or 1.0
    overall = sorted(((i, round(s / top, 6)) for i, s in scores.items()), key=lambda p: (-p[1], p[0]))
    by_category: dict[str, list[tuple[str, float]]] = {}
    for item_id, score in overall:
        by_category.setdefault(categories[item_id], []).append((item_id, score))
    return Ranking(overall, by_category)


def _fresh_seconds() -> float:
    return settings.SERVING_POPULAR_CACHE_SECONDS  # read at each lookup: tests change it


class PopularCache:
    """The rankings and the new items' impressions of this process, each refreshed in the background once older
    than SERVING_POPULAR_CACHE_SECONDS (recsys.ops.refreshed: a list never waits for the grouped query but the
    process's first), and the per-category tails of newest items (kept as long, each by its own age: they do not
    depend on the ranking)."""

    def __init__(self):
        self._ranking = Refreshed("popular-ranking", _rank, _fresh_seconds)
        self._new_impressions = Refreshed("new-item-impressions", _new_item_impressions, _fresh_seconds)
        self._tails = TimedLRU(TAIL_CACHE_MAX, _fresh_seconds)

    def clear(self) -> None:
        """Forget everything (tests): a refresh under way is waited for, so that it queries no later test's data."""
        self._ranking.wait(10)
        self._new_impressions.wait(10)
        self._ranking.clear()
        self._new_impressions.clear()
        self._tails.clear()

    def new_impressions(self) -> dict[str, int]:
        """Impressions of new items in exploration slots (recsys.serving.content_lists), as fresh as the ranking."""
        return self._new_impressions.get()

    def ranking(self) -> Ranking:
        return self._ranking.get()

    def tail(self, category: str) -> list[tuple[str, float]]:
        tail = self._tails.get(category)
        if tail is None:
            tail = [(item_id, 0.0) for item_id, _ in selectors.newest_items(category=category, limit=TAIL)]
            self._tails.put(category, tail)
        return tail


def _rank() -> Ranking:
    now = timezone.now()
    windows = [now - timedelta(days=1), now - timedelta(days=7),
               now - timedelta(days=settings.SERVING_POPULAR_WINDOW_DAYS)]
    rows = selectors.event_counts_by_item(
        windows=windows, exclude_user_prefix="" if demo_mode_on() else DEMO_USER_PREFIX)
    # The type weights training uses (TRAINING_EVENT_WEIGHTS), as docs/serving.md says.
    return rank_counts(rows, type_weights=weight_config(None).weights)


def _new_item_impressions() -> dict[str, int]:
    since = timezone.now() - timedelta(days=settings.EXPLORATION_MAX_AGE_DAYS)
    return stored_new_item_impressions(since=since)


_cache = PopularCache()


def popular_items(*, category: str = "", n: int) -> list[tuple[str, float]]:
    """The n most popular available items (of `category`), best first, topped up with the newest."""
    ranking = _cache.ranking()
    ranked = ranking.by_category.get(category, []) if category else ranking.overall
    out = ranked[:n]
    if len(out) < n:
        have = {item_id for item_id, _ in out}
        out = out + [p for p in _cache.tail(category) if p[0] not in have][: n - len(out)]
    return out


def new_item_impressions() -> dict[str, int]:
    """Impressions per new item shown in an exploration slot, per process (refreshed as the rankings are)."""
    return _cache.new_impressions()


def clear_cache() -> None:
    _cache.clear()
