"""Model card figures: pure numpy over a model's own recommendations (no ORM).

The sample: top-k lists the model itself produces (before curation and seen-filtering), for
up to `sample` shoppers (ALS: user factors x item factors) or items (item-kNN: similar-item
lists). From it: catalog coverage, popularity concentration (Gini of how often each catalog
item is recommended: 0 = evenly spread, 1 = one item takes everything) and the share of
recommendations per category against the catalog's share.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import scipy.sparse as sp

from recsys.ml.evaluation import gini

# Direction of each figure: a warning fires when it worsens by more than the threshold (relative).
# Training's holdout metrics (recsys.ml.evaluation) and this module's sample figures.
HIGHER_IS_BETTER = ("ndcg@10", "precision@10", "recall@10", "map@10", "coverage", "catalog_coverage")
LOWER_IS_BETTER = ("gini", "recommendation_gini", "category_share_gap")


def sample_rows(n: int, sample: int, seed: int = 0) -> np.ndarray:
    if n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))


def top_k_factors(user_factors: np.ndarray, item_factors: np.ndarray, rows: np.ndarray, k: int,
                  chunk: int = 256) -> np.ndarray:
    """Column indices of each sampled user's k best items, best first."""
    k = min(k, item_factors.shape[0])
    out = []
    items_t = np.asarray(item_factors, dtype=np.float32).T
    for start in range(0, len(rows), chunk):
        scores = np.asarray(user_factors[rows[start:start + chunk]], dtype=np.float32) @ items_t
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
        out.append(np.take_along_axis(part, order, axis=1))
    return np.vstack(out) if out else np.zeros((0, k), dtype=np.int64)


def top_k_similarity(similarity: sp.csr_matrix, rows: np.ndarray, k: int) -> list[np.ndarray]:
    sim = similarity.tocsr()
    out = []
    for r in rows:
        lo, hi = sim.indptr[r], sim.indptr[r + 1]
        cols, vals = np.asarray(sim.indices[lo:hi]), np.asarray(sim.data[lo:hi])
        out.append(cols[np.argsort(-vals, kind="stable")[:k]])
    return out


def figures(recommended: list[np.ndarray] | np.ndarray, artifact_item_ids: np.ndarray,
            catalog_categories: dict[str, str]) -> dict:
    """Coverage, Gini and category shares of a sample of recommendation lists.

    `catalog_categories`: item_id -> category for every recommendable catalog item.
    """
    counts = Counter()
    for row in recommended:
        for col in row:
            counts[str(artifact_item_ids[col])] += 1
    counts = Counter({i: n for i, n in counts.items() if i in catalog_categories})
    total = sum(counts.values())
    n_catalog = len(catalog_categories)
    per_item = np.array([counts.get(i, 0) for i in catalog_categories], dtype=np.float64)
    rec_by_cat, cat_sizes = Counter(), Counter(catalog_categories.values())
    for item_id, n in counts.items():
        rec_by_cat[catalog_categories[item_id]] += n
    categories = sorted(cat_sizes, key=lambda c: (-cat_sizes[c], c))
    shares = [{"category": c or "(none)", "recommended": rec_by_cat[c] / total if total else 0.0,
               "catalog": cat_sizes[c] / n_catalog} for c in categories]
    gap = 0.5 * sum(abs(s["recommended"] - s["catalog"]) for s in shares)  # total variation distance
    return {
        "lists": len(recommended), "recommendations": total,
        "catalog_coverage": len(counts) / n_catalog if n_catalog else 0.0,
        "recommendation_gini": gini(per_item),
        "category_shares": shares,
        "category_share_gap": gap,
    }


def warnings(current: dict, previous: dict | None, threshold: float) -> list[str]:
    """Figures that worsened by more than `threshold` (relative) against the previous version."""
    if not previous:
        return []
    out = []
    for name in HIGHER_IS_BETTER + LOWER_IS_BETTER:
        now, before = current.get(name), previous.get(name)
        if now is None or before is None:
            continue
        if name in HIGHER_IS_BETTER:
            worse = before > 0 and (before - now) / before > threshold
        else:
            worse = now - before > threshold * max(before, 0.01)
        if worse:
            out.append(f"{name} worsened from {before:.4f} to {now:.4f} "
                       f"(more than {threshold:.0%} against the previous version)")
    return out
