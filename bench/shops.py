"""Synthetic shops as in-memory matrices (no database), shared by the selection benchmarks.

`clustered_shop` is bench_training.py's generator (the shop the PostgreSQL benchmark loads), as a
matrix: log-normal shopper activity, 200 taste clusters (shopper u's is u % 200), 70% of events
from the shopper's cluster and 30% from global popularity, Zipf-like (exponent 0.9) in both,
event types view 60% / click 20% / cart 12% / purchase 8%, timestamps over a year, training's
event weights. Vectorised: 10M events take a few seconds.
"""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp

from recsys.ml import matrix

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def clustered_shop(n_shoppers: int, n_items: int, n_events: int, *, clusters: int = 200,
                   seed: int = 7) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0, 1.0, n_shoppers)
    users = rng.choice(n_shoppers, size=n_events, p=activity / activity.sum())
    rank_p = 1.0 / np.arange(1, n_items + 1) ** 0.9
    global_pick = rng.choice(n_items, size=n_events, p=rank_p / rank_p.sum())
    per_cluster = max(1, n_items // clusters)
    in_p = 1.0 / np.arange(1, per_cluster + 1) ** 0.9
    in_rank = rng.choice(per_cluster, size=n_events, p=in_p / in_p.sum())
    cluster_pick = (users % clusters) + in_rank * clusters
    items = np.where(rng.random(n_events) < 0.7, cluster_pick, global_pick) % n_items
    types = rng.choice(4, size=n_events, p=[0.6, 0.2, 0.12, 0.08])  # view, click, add_to_cart, purchase
    stamps = NOW.timestamp() - rng.uniform(0, 365 * 86400.0, n_events)
    weights = matrix.event_weights(types.astype(np.int64), np.ones(n_events, np.float32), stamps,
                                   now=NOW.timestamp(), config=matrix.WeightConfig(half_life_days=365.0))
    return matrix.build_interactions(users.astype(np.int64), items.astype(np.int64), weights).matrix
