"""Content-based candidates (recsys.ml.content) for the list service: similar lists for items behaviour cannot see
(or barely), and the exploration slots of personal lists. Everything works on the loaded version's memory-mapped
content index and the request's data: no database round trip (the impressions of new items come from the
popular lists' per-process cache, recsys.serving.popular).

"New" (source `new`): absent from the active model and first ingested at most CURIO_EXPLORATION_MAX_AGE_DAYS ago.

Similar lists, the blend (docs/serving.md, "Similar items for new items"): with s the item's interactions in the
model's training data, an item with s < CURIO_SIMILAR_MIN_INTERACTIONS (or absent from the model) gets its
content neighbours alone, ranked by cosine x (1 + ln(1 + the neighbour's interactions)): among items the catalog
describes alike, those shoppers chose more often. Otherwise each candidate's score is
(1 - a) * behaviour + a * content, both scaled to the list's best, with a = prior / (prior + s)
(CURIO_SIMILAR_CONTENT_PRIOR, default 20: half content at 20 interactions, a tenth at 180). Its reason says which
part weighed more.

Exploration: CURIO_EXPLORATION_SLOTS per 10 positions (round half up: a list of 5 gets one) at the end of each
block of positions (10, 20, ...), to the new items closest in content to the shopper's recent history, their
affinity damped by the impressions they already had: affinity / (1 + impressions / IMPRESSION_SCALE).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.conf import settings

from recsys.ml import content

IMPRESSION_SCALE = 100.0  # a new item shown this often already has half the pull of an unseen one
HISTORY_ITEMS = 50  # the most recent distinct history items an exploration pick is matched against
DAY = 86400.0


@dataclass
class ContentView:
    """A loaded version's content index with what serving derives from it once per version."""

    index: content.ContentIndex
    model_cols: np.ndarray  # content row -> model column, -1: absent from the model
    support: np.ndarray | None  # model column -> interactions in training (None: an older version)
    pool: np.ndarray  # content rows absent from the model and young at load: the new items
    pool_t: sp.csr_matrix  # their tf-idf rows, transposed (terms x pool)

    def is_new(self, row: int, now: float) -> bool:
        return self.model_cols[row] < 0 and self.index.created[row] >= now - settings.EXPLORATION_MAX_AGE_DAYS * DAY


def content_view(index: content.ContentIndex | None, item_col, support: np.ndarray | None,
                 now: float) -> ContentView | None:
    if index is None or len(index) == 0:
        return None
    cols = np.fromiter(((-1 if (c := item_col(i)) is None else c) for i in index.ids.tolist()), dtype=np.int64,
                       count=len(index))
    young = index.created >= now - settings.EXPLORATION_MAX_AGE_DAYS * DAY
    pool = np.flatnonzero((cols < 0) & young)
    return ContentView(index, cols, support, pool, index.x[pool].T.tocsr())


@dataclass
class ContentCandidate:
    item_id: str
    score: float
    kind: str  # "content" | "similar" (the behavioural part weighed more)
    because_of: str = ""  # the context / history item
    terms: tuple[str, ...] = ()
    new: bool = False


def similar(view: ContentView, item_id: str, behaviour: list, model_col: int | None, n: int,
            now: float) -> list[ContentCandidate] | None:
    """The similar list of `item_id` blended with its content neighbours (None: the index does not know the item,
    the behavioural list stands). `behaviour`: the model's candidates (RawCandidate), best first."""
    row = view.index.row(item_id)
    if row is None:
        return None
    support = 0
    if model_col is not None and view.support is not None and model_col < len(view.support):
        support = int(view.support[model_col])
    elif model_col is not None and view.support is None:
        return None  # no support figures: keep behaviour
    rows, sims = content.neighbours(view.index, row, view.index.meta.get("neighbours", n))
    sims = sims * _evidence(view, rows)
    keep = np.argsort(-sims, kind="stable")[:n]
    rows, sims = rows[keep], sims[keep]
    ids = view.index.ids
    a = 1.0 if (model_col is None or support < settings.SIMILAR_MIN_INTERACTIONS) else \
        settings.SIMILAR_CONTENT_PRIOR / (settings.SIMILAR_CONTENT_PRIOR + support)
    scores: dict[str, list[float]] = {}
    c_top = float(sims[0]) if len(sims) else 1.0
    rows_of: dict[str, int] = {}
    for r, s in zip(rows.tolist(), sims.tolist(), strict=True):
        key = str(ids[r])
        rows_of[key] = r
        scores.setdefault(key, [0.0, 0.0])[1] = a * s / (c_top or 1.0)
    if a < 1.0:
        b_top = max((c.score for c in behaviour), default=0.0)
        for c in behaviour:
            scores.setdefault(c.item_id, [0.0, 0.0])[0] = (1 - a) * (c.score / b_top if b_top > 0 else 0.0)
    out = []
    for key, (b, c) in scores.items():
        r = rows_of.get(key)
        if r is None:
            r = view.index.row(key)
        terms = tuple(content.shared_terms(view.index, row, r)) if (r is not None and c >= b) else ()
        out.append(ContentCandidate(key, round(b + c, 6), "content" if c >= b else "similar", item_id, terms,
                                    r is not None and view.is_new(r, now)))
    out.sort(key=lambda x: (-x.score, x.item_id))
    return out[:n]


def _evidence(view: ContentView, rows: np.ndarray) -> np.ndarray:
    """content_build.evidence of each content row's item (1 for an item the model does not know)."""
    if view.support is None:
        return np.ones(len(rows), dtype=np.float32)
    cols = view.model_cols[rows]
    known = (cols >= 0) & (cols < len(view.support))
    support = np.zeros(len(rows), dtype=np.float32)
    support[known] = view.support[cols[known]]
    return (1.0 + np.log1p(support)).astype(np.float32)


def slot_positions(limit: int, slots: int) -> list[int]:
    """The 1-based positions of a list of `limit` given to exploration: `slots` per 10, each at the end of its
    share of the list."""
    n = int(limit * max(0, slots) / 10 + 0.5)
    n = min(n, limit)
    return [round((k + 1) * limit / n) for k in range(n)] if n else []


def explore(view: ContentView, history_ids: list[str], n: int, *, now: float, skip: frozenset[str] | set[str],
            impressions: dict[str, int]) -> list[ContentCandidate]:
    """Up to `n` new items for a shopper whose recent history (newest first) is `history_ids`, best first."""
    if n <= 0 or len(view.pool) == 0:
        return []
    index = view.index
    rows = []
    for item_id in dict.fromkeys(history_ids):
        r = index.row(item_id)
        if r is not None:
            rows.append(r)
        if len(rows) >= HISTORY_ITEMS:
            break
    if not rows:
        return []
    weights = 1.0 / (1.0 + 0.05 * np.arange(len(rows), dtype=np.float32))  # recent history counts a little more
    history = np.array(rows, dtype=np.int64)
    score = content.affinity(index, history, weights, view.pool_t)
    score[index.created[view.pool] < now - settings.EXPLORATION_MAX_AGE_DAYS * DAY] = 0  # no longer new
    # The closest first, a few more than n (impressions damp them below, blocks and seen items skip some): a
    # partial sort of the pool, not a full one.
    take = min(len(score), 8 * n + 40)
    top = np.argpartition(-score, take - 1)[:take] if take < len(score) else np.arange(len(score))
    top = top[np.lexsort((top, -score[top]))]
    out = []
    for k in top.tolist():
        if score[k] <= 0 or len(out) >= 4 * n + 20:
            break
        item_id = str(index.ids[view.pool[k]])
        if item_id in skip:
            continue
        out.append((float(score[k]) / (1.0 + impressions.get(item_id, 0) / IMPRESSION_SCALE), item_id, k))
    out.sort(key=lambda x: (-x[0], x[1]))
    # The history item each pick is most like (its reason): worked out for the picks only.
    return [ContentCandidate(item_id, pull, "content",
                             str(index.ids[history[content.closest(index, history, int(view.pool[k]))]]), (), True)
            for pull, item_id, k in out[:n]]
