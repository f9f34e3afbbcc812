"""Model selection benchmark (issue #30): repeatable, paired, bounded selection against raw implicit.

    .venv/bin/python bench/bench_selection.py --shops small,medium --runs 3
    .venv/bin/python bench/bench_selection.py --shops 1m --runs 1 --costs --ceiling rp3beta,ease_head,bm25
    .venv/bin/python bench/bench_selection.py --shops 10m --runs 1 --no-kind-holdouts --small-raw-grid --costs
    .venv/bin/python bench/bench_selection.py --shops small --runs 1 --budgets 0,5,20,80 --min-work 0

Pure numpy (no database), the shops from bench/shops.py (bench_training.py's generator), each split
as training splits (20% per-shopper holdout of up to 10,000 shoppers, 3,000 of them for the
selection, the rest the holdout) and selected with the shipped settings: the starting points
(CURIO_TRAINING_CANDIDATES), the seeded search within CURIO_TRAINING_SEARCH_WORK default ALS fits of estimated
work (at least CURIO_TRAINING_SEARCH_MIN_WORK reference seconds; CURIO_TRAINING_SEARCH_FITS fold-fits), the sample
bounded by CURIO_TRAINING_SELECTION_USERS / _INTERACTIONS, paired comparisons at CURIO_TRAINING_SELECTION_Z.
The winner is then fitted on the whole training split (or its fit from the selection reused, as training
does) and scored on the holdout.
Printed per shop and run: the sample, trials per kind with the best fold figure (and, unless
--no-kind-holdouts, that candidate's holdout figure: fold and holdout should agree), the selection
time, why it stopped, the winner and its holdout nDCG@10; then raw implicit on the same split in the
same run: ALS and BM25 item-item with the library's defaults and tuned (the best of a small grid,
picked on the holdout itself: an optimistic bound for the raw library), and one raw ALS fit's time.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "bench-selection-only-" + "k" * 40)  # settings are read, nothing is served
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402

from bench.shops import clustered_shop  # noqa: E402
from recsys.ml import evaluation, fitting, matrix, model_kinds, neighbours  # noqa: E402

SEED = 42
SHOPS = {  # name: (shoppers, items, events, clusters)
    "small": (1_000, 1_700, 95_000, 20),  # MovieLens-100k's density: ~55,000 distinct positives
    "medium": (10_000, 5_000, 500_000, 100),
    "1m": (50_000, 20_000, 1_000_000, 200),
    "10m": (500_000, 100_000, 10_000_000, 200),
}


def raw_implicit(train, users, score, threads: int, grid: bool) -> tuple[dict[str, float], float]:
    """Raw implicit on the same split: defaults and a small grid each (best on the holdout; `grid`
    False: 2 ALS and 3 BM25 settings, for the 10M shop), and one default ALS fit's seconds."""
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender

    def als(**kw):
        model = AlternatingLeastSquares(num_threads=threads, random_state=SEED, **kw)
        began = time.perf_counter()
        model.fit(train, show_progress=False)
        took = time.perf_counter() - began
        ids, _ = model.recommend(users, train[users], N=10, filter_already_liked_items=True)
        return score(np.asarray(ids)), took

    def bm25(**kw):
        model = BM25Recommender(num_threads=threads, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(train, show_progress=False)
        return score(neighbours.knn_recommend(model.similarity, train, users, k=10))  # implicit's scores, batched

    out = {}
    out["implicit ALS (defaults)"], als_seconds = als()
    als_grid = [(f, r, a) for f in (64, 128) for r in (0.05, 1.0) for a in (1.0, 10.0)] if grid else [
        (64, 0.05, 2.0), (64, 1.0, 10.0)]
    out["implicit ALS (tuned)"] = max(als(factors=f, regularization=r, alpha=a)[0] for f, r, a in als_grid)
    out["implicit BM25 (defaults)"] = bm25()
    bm25_grid = [(k, k1, b) for k in (50, 100, 200) for k1 in (0.9, 1.5) for b in (0.4, 0.75)] if grid else [
        (50, 1.2, 0.75), (100, 0.9, 0.4), (200, 0.9, 0.4)]
    out["implicit BM25 (tuned)"] = max(bm25(K=k, K1=k1, B=b) for k, k1, b in bm25_grid)
    return out, als_seconds


def select(split, users, options, work: float, min_work: float, verbose: bool = False):
    """As a training run selects (recsys/training/pipeline.py: fitting.select with the settings); `work`: the
    search's budget in default ALS fits of the training split (TRAINING_SEARCH_WORK), at least `min_work`."""
    starts = [fitting.Candidate.from_setting(c) for c in settings.TRAINING_CANDIDATES]
    budget = fitting.search_work(split.train, als_fits=work, floor_seconds=min_work, options=options) or None
    return fitting.select(
        starts, fitting.tuning_space(SEED) if budget else [], split.train, split.test, users,
        n_folds=settings.TRAINING_SELECTION_FOLDS, sample_users=settings.TRAINING_SELECTION_USERS,
        max_interactions=settings.TRAINING_SELECTION_INTERACTIONS, repeats=settings.TRAINING_SELECTION_REPEATS,
        options=options, iterations=settings.TRAINING_SELECTION_ITERATIONS,
        budget_fits=settings.TRAINING_SEARCH_FITS if budget else None, budget_work=budget,
        max_seconds=settings.TRAINING_SEARCH_SECONDS, z=settings.TRAINING_SELECTION_Z, seed=SEED,
        on_trial=print_trial if verbose else None, on_final=print_trial if verbose else None), budget


def print_trial(t: fitting.Trial) -> None:
    gain = f" gain {t.gain:+.4f} ± {t.gain_se:.4f}" if t.gain is not None else ""
    print(f"    trial {t.candidate.label()}: {t.ndcg:.4f} ± {t.ndcg_std:.4f} ({len(t.fold_scores)} folds, "
          f"{t.seconds:.1f}s, estimated {t.work:.1f}s){gain} {t.outcome}", flush=True)


def print_ceiling(kinds: list[str], holdout_of) -> None:
    """Every candidate of each kind's search space fitted on the training split and scored on the holdout itself:
    the best that any selection could pick from the space (an optimistic bound, chosen on the test)."""
    for kind in kinds:
        space = model_kinds.kind_class(kind).search_space()
        began = time.perf_counter()
        scored = [(holdout_of(fitting.Candidate(kind, params))[0], params) for params in space]
        best, params = max(scored, key=lambda pair: pair[0])
        print(f"  ceiling {kind}: best of its {len(space)} parameter sets on the holdout {best:.4f} "
              f"({params}; {time.perf_counter() - began:.0f}s)", flush=True)


def print_costs(split, options) -> None:
    """Each starting point (and implicit's default ALS) fitted once on the whole training split: its estimated
    reference seconds (`fit_seconds`, what the budget counts) beside the seconds it took here."""
    size = fitting.DataSize.of(split.train)
    starts = [fitting.Candidate.from_setting(c) for c in settings.TRAINING_CANDIDATES]
    for candidate in [fitting.REFERENCE_ALS] + starts:
        if model_kinds.kind_class(candidate.kind).skip_reason(split.train.shape, options):
            continue
        for iterations in ((settings.TRAINING_SELECTION_ITERATIONS, None) if candidate.kind == "als" else (None,)):
            began = time.perf_counter()
            fitting.fit(candidate, split.train, options=options, iterations=iterations)
            took = time.perf_counter() - began
            estimate = candidate.fit_seconds(size, options, iterations)
            print(f"  cost {candidate.label():<70} iterations {iterations or '-':>2}: estimated {estimate:6.1f}s, "
                  f"took {took:6.1f}s ({took / estimate:.2f}x)", flush=True)


def run_shop(name: str, args) -> None:
    n_shoppers, n_items, n_events, clusters = SHOPS[name]
    began = time.perf_counter()
    data = clustered_shop(n_shoppers, n_items, n_events, clusters=clusters, seed=args.shop_seed)
    options = fitting.FitOptions(num_threads=args.threads, random_state=SEED,
                                 ease_max_items=settings.TRAINING_EASE_MAX_ITEMS)
    split = matrix.holdout_split(data, fraction=settings.TRAINING_HOLDOUT_FRACTION,
                                 max_eval_users=settings.TRAINING_EVAL_USERS, seed=SEED)
    users, holdout = fitting.split_eval_users(split.eval_users, selection_users=settings.TRAINING_SELECTION_EVAL_USERS,
                                              seed=SEED)
    test, pop = split.test[holdout], matrix.item_popularity(split.train)

    def score(recs) -> float:
        return evaluation.ranking_metrics(recs, test, n_items=data.shape[1], popularity=pop)["ndcg@10"]

    def holdout_of(candidate) -> tuple[float, float]:
        t0 = time.perf_counter()
        model = fitting.fit(candidate, split.train, options=options)
        took = time.perf_counter() - t0
        return score(model.recommend(split.train, holdout)), took

    print(f"\n[{name}] {data.shape[0]:,} shoppers x {data.shape[1]:,} items, {data.nnz:,} interactions "
          f"(generated in {time.perf_counter() - began:.1f}s); holdout {len(holdout):,} shoppers", flush=True)
    budgets = [float(b) for b in args.budgets.split(",")] if args.budgets else [settings.TRAINING_SEARCH_WORK]
    with fitting.blas_single_thread():
        if args.costs:
            print_costs(split, options)
        if args.ceiling:
            print_ceiling(args.ceiling.split(","), holdout_of)
        for budget in budgets:
            for run in range(args.runs):
                t0 = time.perf_counter()
                (folds, result, final), budget_seconds = select(split, users, options, budget, args.min_work,
                                                                args.verbose)
                selection_seconds = time.perf_counter() - t0
                winner = result.trials[0]
                if result.model is not None:  # as the pipeline: the selection's fit is the model
                    held, fit_seconds = score(result.model.recommend(split.train, holdout)), 0.0
                else:
                    held, fit_seconds = holdout_of(winner.candidate)
                s = folds.sample
                if run == 0 and budget == budgets[0]:
                    print(f"  sample: {s['shoppers']:,} of {s['of_shoppers']:,} shoppers, {s['interactions']:,} of "
                          f"{s['of_interactions']:,} interactions, {s['items_seen']:,} of {s['of_items']:,} items "
                          f"(top tenth: {s['top_decile_items_seen']:.0%}); {s['scored_shoppers']:,} scored in "
                          f"{s['folds']} folds x {s['repeats']}")
                reused = "the selection's fit reused" if result.model is not None else f"{fit_seconds:.1f}s"
                print(f"  budget {budget:g} ALS fits ({budget_seconds or 0:.1f} estimated s), run {run + 1}: "
                      f"{len(result.trials)} trials, {result.fits} fold-fits, {result.work:.1f} estimated s in "
                      f"{selection_seconds:.1f}s (stopped: {result.stopped}); winner {winner.candidate.label()} "
                      f"folds {winner.ndcg:.4f} ± {winner.ndcg_std:.4f}, holdout nDCG@10 {held:.4f} "
                      f"(winner's fit: {reused})", flush=True)
                if final:
                    print("  final round on the whole data (the best of each kind, one fit each): " + ", ".join(
                        f"{t.candidate.label()} {t.ndcg:.4f} ({t.outcome}{', won' if t.won else ''})"
                        for t in final), flush=True)
            if args.runs and not args.budgets:
                by_kind: dict[str, list] = {}
                for t in result.trials:
                    by_kind.setdefault(t.candidate.kind, []).append(t)
                print(f"  {'kind':<10} {'trials':>6} {'best params (folds)':<62} {'folds nDCG@10':>17} "
                      f"{'s.e.':>7} {'holdout':>8} {'fit s':>6}")
                for kind, ts in by_kind.items():
                    best = max(ts, key=lambda t: (t.complete, t.ndcg)) if not ts[0].won else ts[0]
                    h, took = holdout_of(best.candidate) if args.kind_holdouts else (float("nan"), float("nan"))
                    params = ", ".join(f"{k}={v}" for k, v in sorted(best.candidate.params.items()))
                    print(f"  {kind:<10} {len(ts):>6} {params:<62} {best.ndcg:>8.4f} ± {best.ndcg_std:.4f} "
                          f"{best.ndcg_se:>7.4f} {h:>8.4f} {took:>6.1f}", flush=True)
        raw, als_seconds = raw_implicit(split.train, holdout, score, args.threads, args.raw_grid)
    for label, value in raw.items():
        print(f"  {label:<28} {value:.4f}")
    best_raw = max(raw.values())
    total = selection_seconds + fit_seconds
    print(f"[{name}] selected / best raw implicit = {held / best_raw:.3f}x; selection + winner's fit = "
          f"{total:.1f}s = {total / als_seconds:.2f}x one raw ALS fit ({als_seconds:.1f}s, defaults)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", default="small,medium")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budgets", default="", help="comma-separated search budgets, in default ALS fits of the "
                        "training split (default: CURIO_TRAINING_SEARCH_WORK; 0: the starting points only)")
    parser.add_argument("--min-work", type=float, default=settings.TRAINING_SEARCH_MIN_WORK,
                        help="the budget's floor in reference seconds (default: CURIO_TRAINING_SEARCH_MIN_WORK)")
    parser.add_argument("--ceiling", default="", help="comma-separated kinds: score each kind's whole search space "
                        "on the holdout (the best any selection could pick)")
    parser.add_argument("--costs", action="store_true", help="first fit each starting point once: estimated "
                        "reference seconds beside the measured")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-kind-holdouts", dest="kind_holdouts", action="store_false")
    parser.add_argument("--small-raw-grid", dest="raw_grid", action="store_false")
    parser.add_argument("--verbose", action="store_true", help="print each trial as it ends")
    parser.add_argument("--shop-seed", type=int, default=7, help="the generator's seed (another shop of the same kind)")
    args = parser.parse_args()
    for shop in args.shops.split(","):
        run_shop(shop, args)


if __name__ == "__main__":
    main()
