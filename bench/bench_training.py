"""Training benchmark: PostgreSQL extraction, raw implicit ALS fit, and a whole Curio training run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/curio_bench_training .venv/bin/python bench/bench_training.py

Synthetic shop (loaded once with COPY, reused on later runs): 200,000 shoppers x 50,000 items x
3,000,000 events; item popularity is power-law (Zipf-like), shopper activity is log-normal, and
each shopper has a taste cluster (so a personal model can beat popularity and pass the gate).

Printed, all on the same matrix in the same run:
- extraction (PostgreSQL -> CSR) vs one raw `implicit` ALS fit (64 factors, 15 iterations): <= 15%
- a whole run (extract, select with its search, fit, evaluate, refit, save, activate) in a fresh
  worker-like process vs that raw fit: <= 3x
- that process's peak RSS growth over its idle size vs CSR + factors bytes: <= 5x
Scenario "default" uses the shipped settings (starting points, folds, the CURIO_TRAINING_SEARCH_FITS
search; EASE is skipped at this catalog size); "als-only" forces an ALS winner (the slow path: ALS
starting points only, no search).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ALS_ONLY = [
    {"kind": "als", "factors": 64, "regularization": 0.05, "alpha": 2.0, "iterations": 15},
    {"kind": "als", "factors": 64, "regularization": 1.0, "alpha": 10.0, "iterations": 15},
]


def setup_django():
    import django

    django.setup()


def load_data(n_shoppers: int, n_items: int, n_events: int, seed: int = 7) -> None:
    """COPY the synthetic shop into an empty database (skipped when the counts already match)."""
    import numpy as np
    from django.db import connection, transaction

    from recsys.models import Event, Item, Shopper

    if (Shopper.objects.count(), Item.objects.count(), Event.objects.count()) == (n_shoppers, n_items, n_events):
        print(f"data: reusing {n_shoppers:,} shoppers, {n_items:,} items, {n_events:,} events")
        return
    started = time.perf_counter()
    with transaction.atomic():
        Event.objects.all().delete()
        Shopper.objects.all().delete()
        Item.objects.all().delete()
    rng = np.random.default_rng(seed)
    clusters = 200
    with connection.cursor() as cursor:
        raw = cursor.cursor
        now = "2026-11-01 00:00:00+00"
        with raw.copy("COPY recsys_item (item_id, title, category, url, image_url, attributes, available, "
                      "created_at, updated_at) FROM STDIN") as copy:
            copy.write("".join(f"b{j}\tItem {j}\tc{j % clusters}\t\t\t{{}}\tt\t{now}\t{now}\n"
                               for j in range(n_items)))
        with raw.copy("COPY recsys_shopper (user_id, personalization_consent, created_at, updated_at) "
                      "FROM STDIN") as copy:
            copy.write("".join(f"bu{u}\tt\t{now}\t{now}\n" for u in range(n_shoppers)))
        cursor.execute("SELECT min(id) FROM recsys_item")
        item0 = cursor.fetchone()[0]
        cursor.execute("SELECT min(id) FROM recsys_shopper")
        shopper0 = cursor.fetchone()[0]
        # Shopper activity: log-normal (a few very active shoppers, a long tail of occasional ones).
        activity = rng.lognormal(0, 1.0, n_shoppers)
        users = rng.choice(n_shoppers, size=n_events, p=activity / activity.sum())
        # Items: 70% from the shopper's taste cluster, 30% from global popularity; Zipf-like in both.
        rank_p = 1.0 / np.arange(1, n_items + 1) ** 0.9
        global_pick = rng.choice(n_items, size=n_events, p=rank_p / rank_p.sum())
        per_cluster = n_items // clusters
        in_p = 1.0 / np.arange(1, per_cluster + 1) ** 0.9
        in_rank = rng.choice(per_cluster, size=n_events, p=in_p / in_p.sum())
        cluster_pick = (users % clusters) + in_rank * clusters
        items = np.where(rng.random(n_events) < 0.7, cluster_pick, global_pick) % n_items
        types = rng.choice(np.array(["view", "click", "add_to_cart", "purchase"]), size=n_events,
                           p=[0.6, 0.2, 0.12, 0.08])
        stamps = np.datetime_as_string(np.datetime64("2026-11-01T00:00:00")
                                       - rng.uniform(0, 365 * 86400, n_events).astype("timedelta64[s]"))
        chunk = 500_000
        for start in range(0, n_events, chunk):
            stop = min(start + chunk, n_events)
            lines = "".join(
                f"be{n}\t{shopper0 + u}\t{item0 + i}\t{t}\t1\t{a}+00\t\t{now}\n"
                for n, u, i, t, a in zip(range(start, stop), users[start:stop].tolist(), items[start:stop].tolist(),
                                         types[start:stop].tolist(), stamps[start:stop].tolist(), strict=True)
            )
            with raw.copy("COPY recsys_event (event_id, shopper_id, item_id, type, value, timestamp, "
                          "recommendation_id, created_at) FROM STDIN") as copy:
                copy.write(lines)
            print(f"  loaded {stop:,} events", flush=True)
        cursor.execute("ANALYZE recsys_event")
    print(f"data: loaded {n_shoppers:,} shoppers, {n_items:,} items, {n_events:,} events "
          f"in {time.perf_counter() - started:.0f}s")


def child_run() -> None:
    """A fresh worker-like process: warm imports, measure idle RSS, run one whole training."""
    setup_django()
    import psutil
    from django.conf import settings

    from recsys.models import ModelVersion, TrainingRun
    from recsys.training import services

    settings.MODEL_DIR = Path(os.environ["BENCH_MODEL_DIR"])
    ModelVersion.objects.filter(is_active=True).update(is_active=False)  # compare against no active model
    TrainingRun.objects.update(metrics={})  # and no earlier run to warm-start from: each scenario starts cold
    idle = psutil.Process().memory_info().rss
    started = time.perf_counter()
    run, _ = services.training_run_start(triggered_by="bench", executor="inline")
    run = services.training_run_execute(run_id=run.pk)
    seconds = time.perf_counter() - started
    peak = services.process_peak_rss_bytes()  # not ru_maxrss: it includes this parent's peak (load_data)
    version = getattr(run, "model_version", None)
    print("CHILD " + json.dumps({
        "seconds": seconds, "idle_rss": idle, "peak_rss": peak, "status": run.status, "error": run.error[:300],
        "timings": run.timings, "counts": run.data_counts, "winner": version.params if version else None,
        "ndcg": (run.metrics or {}).get("model", {}).get("ndcg@10"),
        "pop_ndcg": (run.metrics or {}).get("popularity", {}).get("ndcg@10"),
        "selection": (run.metrics or {}).get("selection"), "search": (run.metrics or {}).get("search"),
    }))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shoppers", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--scenarios", default="default,als-only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_run()
        return
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    if connection.vendor != "postgresql":
        sys.exit("bench_training needs PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    load_data(args.shoppers, args.items, args.events)

    import numpy as np
    from implicit.als import AlternatingLeastSquares

    from recsys.ml import fitting, matrix
    from recsys.training import selectors
    from recsys.training.config import weight_config

    threads = settings.TRAINING_NUM_THREADS
    print(f"machine: {os.cpu_count()} CPUs, implicit num_threads={threads}, BLAS 1 thread, use_gpu=False; "
          f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    with fitting.blas_single_thread():
        started = time.perf_counter()
        users, items, weights, n = selectors.event_arrays(config=weight_config(), now=timezone.now())
        data = matrix.build_interactions(users, items, weights, negatives=selectors.negative_interactions())
        extract_s = time.perf_counter() - started
        del users, items, weights
        m = data.matrix
        print(f"matrix: {n:,} events -> {m.shape[0]:,} x {m.shape[1]:,} CSR, {m.nnz:,} nonzeros, "
              f"{matrix.matrix_bytes(m) / 1e6:.1f} MB")
        model = AlternatingLeastSquares(factors=64, iterations=15, regularization=0.05, num_threads=threads,
                                        use_gpu=False, random_state=0)
        started = time.perf_counter()
        model.fit(m, show_progress=False)
        fit_s = time.perf_counter() - started
    factor_bytes = (m.shape[0] + m.shape[1]) * 64 * np.dtype(np.float32).itemsize
    budget_bytes = matrix.matrix_bytes(m) + factor_bytes
    print(f"extraction PostgreSQL -> CSR: {extract_s:.2f}s")
    print(f"raw implicit ALS fit (64 factors, 15 iterations): {fit_s:.2f}s")
    print(f"extraction / raw fit: {extract_s / fit_s:.1%} (target <= 15%)")
    del model, m, data

    for scenario in args.scenarios.split(","):
        env = {**os.environ, "BENCH_MODEL_DIR": tempfile.mkdtemp(prefix="curio-bench-models-")}
        if scenario == "als-only":
            env["CURIO_TRAINING_CANDIDATES"] = json.dumps(ALS_ONLY)
            env["CURIO_TRAINING_SEARCH_SECONDS"] = "0"
        out = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True,
                             cwd=ROOT, check=False)
        line = next((x for x in out.stdout.splitlines() if x.startswith("CHILD ")), None)
        if line is None:
            print(f"[{scenario}] child failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
            continue
        r = json.loads(line[6:])
        growth = r["peak_rss"] - r["idle_rss"]
        print(f"[{scenario}] run {r['status']}, winner {r['winner']}, ndcg@10 {r['ndcg']} vs popularity "
              f"{r['pop_ndcg']}")
        print(f"[{scenario}] search: {r['search']}")
        print(f"[{scenario}] selection ({len(r['selection'] or [])} trials, best first): " + "; ".join(
            f"{t['kind']} {t['params']} ndcg {t['ndcg@10']} ± {t['ndcg@10_std']} ({t['folds']} folds) {t['seconds']}s"
            for t in r["selection"] or []))
        print(f"[{scenario}] stage timings (s): {r['timings']}")
        print(f"[{scenario}] process peak RSS after each stage (MB): {r['counts'].get('peak_rss_mb_after_stage')}")
        print(f"[{scenario}] whole run: {r['seconds']:.2f}s = {r['seconds'] / fit_s:.2f}x the raw fit "
              f"(target <= 3x); run's extract stage {r['timings'].get('extract', 0) / fit_s:.1%} of the raw fit")
        print(f"[{scenario}] worker memory: idle {r['idle_rss'] / 1e6:.0f} MB, peak {r['peak_rss'] / 1e6:.0f} MB, "
              f"growth {growth / 1e6:.0f} MB = {growth / budget_bytes:.2f}x (CSR + factors "
              f"{budget_bytes / 1e6:.0f} MB; target <= 5x)")
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
