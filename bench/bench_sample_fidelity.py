"""Does the selection sample rank the kinds as the full data does? (issue #30, "fold and holdout agree")

    .venv/bin/python bench/bench_sample_fidelity.py                      # 40k shoppers x 8k items x 600k events
    .venv/bin/python bench/bench_sample_fidelity.py --fractions 10,3,1 --items 8000

One long-tailed shop (bench/shops.py, 40 taste clusters), split as training splits it.
Each kind's starting point is fitted on the whole training split and scored on the holdout shoppers; then the
selection sample is bounded at 1/F of the training interactions (CURIO_TRAINING_SELECTION_INTERACTIONS does this
to any shop over the bound) and the same candidates are scored on its folds. Printed per fraction: each kind's
fold figure, its holdout figure, their ratio, and whether the folds rank the kinds as the holdout does.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.shops import clustered_shop  # noqa: E402
from recsys.ml import evaluation, fitting, matrix  # noqa: E402

CANDIDATES = [
    fitting.Candidate("rp3beta", {"alpha": 0.8, "beta": 0.4, "K": 200, "binary": True}),
    fitting.Candidate("bm25", {"K": 100, "K1": 0.9, "B": 0.4}),
    fitting.Candidate("als", {"factors": 64, "regularization": 0.05, "alpha": 2.0, "iterations": 15}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=40_000)
    parser.add_argument("--items", type=int, default=8_000)
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--fractions", default="10,3,1", help="sample bounds as 1/F of the training interactions")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    options = fitting.FitOptions(num_threads=args.threads, random_state=7)
    split = matrix.holdout_split(clustered_shop(args.shoppers, args.items, args.events, clusters=40),
                                 seed=0, max_eval_users=4_000)
    users, holdout = fitting.split_eval_users(split.eval_users, selection_users=1_000, seed=0)
    popularity = matrix.item_popularity(split.train)
    held = {}
    for candidate in CANDIDATES:
        model = fitting.fit(candidate, split.train, options=options)
        held[candidate.kind] = evaluation.ranking_metrics(
            model.recommend(split.train, holdout), split.test[holdout], n_items=split.train.shape[1],
            popularity=popularity)["ndcg@10"]
    truth = sorted(held, key=held.get, reverse=True)
    print(f"shop: {split.train.shape[0]:,} shoppers x {split.train.shape[1]:,} items, {split.train.nnz:,} training "
          f"interactions; holdout order {' > '.join(truth)}")
    for fraction in (int(f) for f in args.fractions.split(",")):
        folds = fitting.selection_folds(split.train, split.test, users, n_folds=3, sample_users=10**9,
                                        max_interactions=split.train.nnz // fraction, seed=3)
        scores = {c.kind: [folds.score(c, k, options=options, iterations=None) for k in range(len(folds.folds))]
                  for c in CANDIDATES}
        order = sorted(scores, key=lambda kind: np.mean(scores[kind]), reverse=True)
        cells = [f"{kind} {np.mean(s):.4f} ± {np.std(s):.4f} vs {held[kind]:.4f} ({np.mean(s) / held[kind]:.2f}x)"
                 for kind, s in scores.items()]
        print(f"1/{fraction} ({folds.sample['interactions']:,} interactions, {folds.sample['items_seen']:,} items "
              f"seen): {' | '.join(cells)}; folds rank {' > '.join(order)}"
              f" {'= holdout' if order == truth else '!= holdout'}")


if __name__ == "__main__":
    main()
