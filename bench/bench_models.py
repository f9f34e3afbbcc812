"""Model quality benchmark: the selection (folds + budgeted search) against each kind, the shipped
default candidates, popularity and raw implicit models, all scored on the same untouched holdout.

    .venv/bin/python bench/bench_models.py                 # demo shop + synthetic shop, 60 fold-fits
    .venv/bin/python bench/bench_models.py --budget 120 --shops synthetic

Pure numpy (no database): the matrices are built in memory with training's event weights, and the
split / selection / holdout follow the training pipeline's settings (20% per-shopper holdout of up
to 10,000 shoppers, 3,000 of them for the selection in 3 user-disjoint folds, the rest the holdout,
ALS with 6 iterations in the selection, seed 42). Shops:
- demo: the storefront's demo shop generator (`manage.py demo`: 3,000 shoppers x 2,000 items).
- synthetic: 8,000 shoppers x 3,000 items from a generator of this script only (mixed taste
  clusters, power-law popularity inside each, 10% popularity noise, heavy-tailed activity).
Printed: per kind its best trial (mean ± spread over the folds) and its holdout nDCG@10, the
selected model's, each default candidate's, popularity's and raw implicit models' (library
defaults, and BM25 K=50) on the holdout, and the selected model vs the best raw implicit model.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from recsys.ml import evaluation as ev  # noqa: E402
from recsys.ml import fitting, neighbours  # noqa: E402
from recsys.ml import matrix as mx  # noqa: E402

# The shipped starting points (CURIO_TRAINING_CANDIDATES), read from the settings, not copied.
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from django.conf import settings  # noqa: E402

DEFAULTS = settings.TRAINING_CANDIDATES
SEED = 42
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def demo_shop() -> sp.csr_matrix:
    from recsys.storefront import demo_shop as demo

    shop = demo.generate(seed=SEED, scale=1.0, now=NOW)
    weights = mx.event_weights(shop.ev_type.astype(np.int64), shop.ev_value, NOW.timestamp() - shop.ev_seconds_ago,
                               now=NOW.timestamp(), config=mx.WeightConfig(half_life_days=365.0))
    return mx.build_interactions(shop.ev_shopper.astype(np.int64), shop.ev_item.astype(np.int64), weights).matrix


def synthetic_shop(n_users: int = 8_000, n_items: int = 3_000, clusters: int = 30, seed: int = 11) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    item_cluster = rng.integers(0, clusters, n_items)
    item_pop = rng.zipf(1.6, n_items).clip(1, 500).astype(np.float64)
    members = [np.flatnonzero(item_cluster == c) for c in range(clusters)]
    global_p = item_pop / item_pop.sum()
    activity = np.clip(np.round(rng.lognormal(2.8, 0.8, n_users)), 3, 400).astype(int)
    types = np.array([0, 0, 0, 1, 1, 2, 3])  # view x3, click x2, cart, purchase
    rows, cols, codes = [], [], []
    for u in range(n_users):
        own = rng.choice(clusters, size=rng.integers(1, 4), replace=False)
        share = rng.dirichlet(np.ones(len(own)))
        n = activity[u]
        picks = []
        for c, k in zip(own, rng.multinomial(n, share), strict=True):
            idx = members[c]
            p = item_pop[idx] / item_pop[idx].sum()
            picks.append(rng.choice(idx, size=k, p=p))
        picks = np.concatenate(picks)
        noisy = rng.random(n) < 0.1
        picks[noisy] = rng.choice(n_items, size=noisy.sum(), p=global_p)
        rows.append(np.full(n, u))
        cols.append(picks)
        codes.append(types[rng.integers(0, len(types), n)])
    rows, cols, codes = np.concatenate(rows), np.concatenate(cols), np.concatenate(codes)
    ts = NOW.timestamp() - rng.uniform(0, 300 * 86400.0, len(rows))
    weights = mx.event_weights(codes, np.ones(len(rows), np.float32), ts, now=NOW.timestamp(),
                               config=mx.WeightConfig(half_life_days=365.0))
    return mx.build_interactions(rows.astype(np.int64), cols.astype(np.int64), weights).matrix


def raw_implicit(train: sp.csr_matrix, users: np.ndarray, threads: int) -> dict[str, np.ndarray]:
    """Raw implicit models with the library's defaults (and BM25 K=50), their own recommend."""
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    out = {}
    for name, model in (("implicit ALS (defaults)", AlternatingLeastSquares(num_threads=threads, random_state=SEED)),
                        ("implicit BM25 (defaults, K=20)", BM25Recommender(num_threads=threads)),
                        ("implicit BM25 K=50", BM25Recommender(K=50, num_threads=threads)),
                        ("implicit cosine (defaults, K=20)", CosineRecommender(num_threads=threads))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(train, show_progress=False)
        if hasattr(model, "similarity"):
            out[name] = neighbours.knn_recommend(model.similarity, train, users, k=10)  # = implicit's scores, batched
        else:
            ids, _ = model.recommend(users, train[users], N=10, filter_already_liked_items=True)
            out[name] = np.asarray(ids)
    return out


def run(name: str, matrix: sp.csr_matrix, budget: float, threads: int) -> dict:
    options = fitting.FitOptions(num_threads=threads, random_state=SEED)
    split = mx.holdout_split(matrix, fraction=0.2, max_eval_users=10_000, seed=SEED)
    users, holdout = fitting.split_eval_users(split.eval_users, selection_users=3_000, seed=SEED)
    folds = fitting.selection_folds(split.train, split.test, users, n_folds=3, sample_users=40_000, seed=SEED)
    test, pop, n_items = split.test[holdout], mx.item_popularity(split.train), matrix.shape[1]

    def score(recs: np.ndarray) -> float:
        return ev.ranking_metrics(recs, test, n_items=n_items, popularity=pop)["ndcg@10"]

    def holdout_of(c: fitting.Candidate) -> float:
        return score(fitting.fit(c, split.train, options=options).recommend(split.train, holdout))

    started = time.perf_counter()
    with fitting.blas_single_thread():
        trials = fitting.search([fitting.Candidate.from_setting(c) for c in DEFAULTS],
                                fitting.tuning_space(SEED), folds, options=options, iterations=6,
                                budget_fits=int(budget))
        searched = time.perf_counter() - started
        print(f"\n[{name}] {matrix.shape[0]:,} shoppers x {n_items:,} items, {matrix.nnz:,} interactions; "
              f"selection {len(users):,} shoppers in 3 folds, holdout {len(holdout):,}; "
              f"{len(trials)} trials in {searched:.1f}s (budget {budget:g} fold-fits)")
        best_by_kind: dict[str, fitting.Trial] = {}
        for t in trials:  # best first: finished trials, then those stopped early (every kind tried appears)
            best_by_kind.setdefault(t.candidate.kind, t)
        print(f"{'kind':<8} {'best params (selection)':<78} {'folds nDCG@10':>16} {'holdout':>8}")
        rows = {}
        for kind, t in best_by_kind.items():
            rows[kind] = holdout_of(t.candidate)
            params = ", ".join(f"{k}={v}" for k, v in sorted(t.candidate.params.items()))
            note = "" if t.complete else f"  (stopped after {len(t.fold_scores)} fold: {t.dropped})"
            print(f"{kind:<8} {params:<78} {t.ndcg:>8.4f} ± {t.ndcg_std:.4f} {rows[kind]:>8.4f}{note}")
        selected = rows[trials[0].candidate.kind]
        defaults = {fitting.Candidate.from_setting(c).label(): holdout_of(fitting.Candidate.from_setting(c))
                    for c in DEFAULTS}
        popular = score(ev.popular_recommendations(split.train, holdout))
        raw = {k: score(v) for k, v in raw_implicit(split.train, holdout, threads).items()}
    print(f"selected: {trials[0].candidate.label()} holdout nDCG@10 {selected:.4f}")
    for label, value in defaults.items():
        print(f"  default {label:<70} {value:.4f}")
    print(f"  popularity {popular:.4f}")
    for label, value in raw.items():
        print(f"  {label:<40} {value:.4f}")
    best_default, best_raw = max(defaults.values()), max(raw.values())
    print(f"[{name}] selected / best default candidate = {selected / best_default:.3f}x; selected / best raw "
          f"implicit model = {selected / best_raw:.3f}x; vs implicit BM25 K=50 = "
          f"{selected / raw['implicit BM25 K=50']:.3f}x; vs popularity = {selected / popular:.2f}x")
    return {"selected": selected, "best_default": best_default, "best_raw": best_raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60, help="search fold-fits (CURIO_TRAINING_SEARCH_FITS)")
    parser.add_argument("--shops", default="demo,synthetic")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    for shop in args.shops.split(","):
        matrix = demo_shop() if shop == "demo" else synthetic_shop()
        run(shop, matrix, args.budget, args.threads)


if __name__ == "__main__":
    main()
