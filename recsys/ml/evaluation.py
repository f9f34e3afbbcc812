"""Offline evaluation on a per-shopper holdout. Pure numpy, no ORM.

Metric definitions (binary relevance: an item is relevant to a shopper when it is among the
shopper's held-out items; each figure is the mean over the evaluated shoppers, k = 10):
- precision@k = hits in the top k / k
- recall@k    = hits in the top k / number of held-out items
- nDCG@k      = DCG / IDCG with DCG = sum over hit positions i (0-based) of 1 / log2(i + 2) and
                IDCG the DCG of a perfect list (min(k, held-out) hits on top)
- MAP@k       = sum over hit positions i of (hits in the top i+1 / (i+1)), divided by min(k, held-out)
- coverage    = distinct items recommended to the evaluated shoppers / items in the catalog matrix
- gini        = Gini coefficient of how often each catalog item is recommended
                (0: every item equally often, -> 1: everything concentrated on a few items)
- popularity_percentile = mean popularity percentile (0..100, 100 = the most popular item) of
                the recommended items: how much a model just echoes the best sellers.
Baselines are computed on the same split, for the same shoppers, with the same filter (items the
shopper already has in the training matrix are never recommended).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

K = 10
METRIC_NAMES = ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage", "gini", "popularity_percentile")


def ranking_metrics(recommended: np.ndarray, test: sp.csr_matrix, *, n_items: int,
                    popularity: np.ndarray, k: int = K) -> dict[str, float]:
    """Score top-k lists. recommended: (n_users, >=k) item indices, -1 = empty slot.
    test: (n_users, n_items) CSR, row u holds the held-out items of recommended[u]."""
    recommended = np.asarray(recommended)[:, :k]
    n_users = recommended.shape[0]
    if n_users == 0:
        return dict.fromkeys(METRIC_NAMES, 0.0)
    test = test.tocsr()
    n_rel = np.diff(test.indptr).astype(np.float64)
    test_keys = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(test.indptr)) * n_items + test.indices
    rec_keys = np.arange(n_users, dtype=np.int64)[:, None] * n_items + recommended
    hits = np.isin(rec_keys, test_keys) & (recommended >= 0)

    hit_counts = hits.sum(axis=1)
    safe_rel = np.maximum(n_rel, 1.0)
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = (hits * discounts).sum(axis=1)
    ideal_len = np.minimum(n_rel, k).astype(np.int64)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_len]
    precision_at_i = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    ap = (precision_at_i * hits).sum(axis=1) / np.maximum(ideal_len, 1)

    valid = recommended[recommended >= 0]
    rec_counts = np.bincount(valid, minlength=n_items).astype(np.float64)
    return {
        "precision@10": float(np.mean(hit_counts / k)),
        "recall@10": float(np.mean(hit_counts / safe_rel)),
        "ndcg@10": float(np.mean(np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 0.0))),
        "map@10": float(np.mean(ap)),
        "coverage": float(np.count_nonzero(rec_counts) / n_items) if n_items else 0.0,
        "gini": gini(rec_counts),
        "popularity_percentile": float(np.mean(popularity_percentiles(popularity)[valid])) if len(valid) else 0.0,
    }


def ndcg_per_user(recommended: np.ndarray, test: sp.csr_matrix, *, n_items: int, k: int = K) -> np.ndarray:
    """nDCG@k of each row (the figure `ranking_metrics` averages): the per-shopper scores a paired
    comparison of two models on the same shoppers needs."""
    recommended = np.asarray(recommended)[:, :k]
    n_users = recommended.shape[0]
    if n_users == 0:
        return np.zeros(0)
    test = test.tocsr()
    n_rel = np.diff(test.indptr)
    test_keys = np.repeat(np.arange(n_users, dtype=np.int64), n_rel) * n_items + test.indices
    hits = np.isin(np.arange(n_users, dtype=np.int64)[:, None] * n_items + recommended, test_keys) & (recommended >= 0)
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(n_rel, k)]
    dcg = (hits * discounts).sum(axis=1)
    return np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 0.0)


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0 = perfectly even)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = len(x)
    total = x.sum()
    if n == 0 or total == 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / total).sum()) / n)


def popularity_percentiles(popularity: np.ndarray) -> np.ndarray:
    """Percentile rank (0..100) of each item's popularity; ties share the lower rank."""
    popularity = np.asarray(popularity)
    n = len(popularity)
    if n <= 1:
        return np.full(n, 100.0)
    sorted_pop = np.sort(popularity)
    below = np.searchsorted(sorted_pop, popularity, side="left")
    return 100.0 * below / (n - 1)


def popular_recommendations(train: sp.csr_matrix, users: np.ndarray, *, k: int = K) -> np.ndarray:
    """The popularity baseline: most popular items (by shoppers in train), minus those seen."""
    popularity = np.bincount(train.indices, minlength=train.shape[1])
    ranked = np.argsort(-popularity, kind="stable")
    return _first_unseen(train, users, ranked, k=k)


def random_recommendations(train: sp.csr_matrix, users: np.ndarray, *, k: int = K, seed: int = 0) -> np.ndarray:
    """A random-quality baseline: one seeded random order of the catalog, minus seen items."""
    ranked = np.random.default_rng(seed).permutation(train.shape[1])
    return _first_unseen(train, users, ranked, k=k)


def _first_unseen(train: sp.csr_matrix, users: np.ndarray, ranked: np.ndarray, *, k: int,
                  block: int = 1024) -> np.ndarray:
    """The first k items of `ranked` each user has not seen, vectorised per block of users."""
    out = np.full((len(users), k), -1, dtype=np.int64)
    n_items = train.shape[1]
    for start in range(0, len(users), block):
        rows = train[np.asarray(users[start:start + block])]
        n = rows.shape[0]
        seen_counts = np.diff(rows.indptr)
        width = min(len(ranked), k + int(seen_counts.max(initial=0)))
        candidates = np.broadcast_to(ranked[:width], (n, width))
        seen_keys = np.repeat(np.arange(n, dtype=np.int64), seen_counts) * n_items + rows.indices
        unseen = ~np.isin(np.arange(n, dtype=np.int64)[:, None] * n_items + candidates, seen_keys)
        position = np.cumsum(unseen, axis=1)
        r, c = np.nonzero(unseen & (position <= k))
        out[start + r, position[r, c] - 1] = candidates[r, c]
    return out


def relative_lift(model: float, baseline: float) -> float:
    """(model - baseline) / baseline; inf when the baseline scores 0 and the model does not."""
    if baseline <= 0:
        return float("inf") if model > 0 else 0.0
    return (model - baseline) / baseline


def promotion_decision(model: dict, *, popularity: dict, random: dict, active: dict | None = None,
                       margin: float = 0.05, metric: str = "ndcg@10") -> tuple[bool, str]:
    """The promotion gate. A model is promoted only if its `metric` beats the random baseline and
    the popularity baseline by more than `margin` (relative, 0.05 = 5%), and, when `active` metrics
    are given, the active version by the same margin. Returns (accepted, reason)."""
    value = model.get(metric, 0.0)
    failures = []
    for name, baseline in (("random", random), ("popularity", popularity), ("the active version", active)):
        if baseline is None:
            continue
        bar = baseline.get(metric, 0.0) * (1.0 + margin)
        if not value > bar:
            failures.append(f"{metric} {value:.4f} does not beat {name} ({baseline.get(metric, 0.0):.4f}) "
                            f"by more than {margin:.0%}")
    if failures:
        return False, "; ".join(failures)
    return True, f"{metric} {value:.4f} beats popularity ({popularity.get(metric, 0.0):.4f}) by " \
                 f"{relative_lift(value, popularity.get(metric, 0.0)):.0%}"
