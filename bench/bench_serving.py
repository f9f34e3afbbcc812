"""Serving benchmark: personal lists from gunicorn vs /healthz vs raw implicit, memory, profile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/curio_serving .venv/bin/python bench/bench_serving.py

Setup (skipped when the DB already holds the bench shop): 200,000 shoppers x 50,000 items,
power-law item popularity, ~10 events per shopper, COPYed into PostgreSQL; ALS (64 factors)
trained directly with implicit, saved with `artifacts.save` (+ top-50 item similarities),
activated (ModelVersion row + ACTIVE stamp) in a fresh MODEL_DIR.

Run: gunicorn on 127.0.0.1 (3 workers x 1 gthread by default, --preload, BLAS 1 thread; on 2 cores
this beat 2x2 and 4x1 on latency), 4 concurrent client processes with keep-alive connections,
random known shoppers, limit=10; /healthz with the same load in the same run. The floor: the same
workers also answer `/bench/raw/<user>` (bench/serving_floor.py: a psycopg prepared history query
plus implicit `recommend(recalculate_user=True)`, no Django), the least a list fresh from the
database can cost; its share of /healthz bounds what any implementation reaches here.
The model part of a request (fold-in + top-k + explanation, in process) is timed against
implicit's `recommend` for the same shoppers. Memory: RSS/PSS of every worker,
and the PSS of the memory-mapped model files, against the arrays' bytes.

Curation (issue #5): 1,000 rules of mixed types (blocks, boosts, pins, annotations on the model's
items and categories, some windowed or segment-scoped) created through `curation.services`, scoped
to the benchmarked placement (`home`); recommendation phases with them disabled and enabled,
alternating three times (0, 1,000, 0, 1,000, 0, 1,000 rules), print both p50s. The rules are deleted at the end.
Impressions: in process (full Django stack), CURIO_IMPRESSIONS off and on in alternating blocks.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing as mp
import os
import pstats
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-serving-" + "x" * 40)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

N_USERS, N_ITEMS, EVENTS_PER_USER, N_CATEGORIES = 200_000, 50_000, 10, 100
FACTORS, SIM_K, LIMIT = 64, 50, 10
PLACEMENT = "home"  # every recommendations request; the curation phase's rules are scoped to it
RULES_ACTOR = "bench:serving"
ROUNDS = 3  # curation phases: 0 and 1,000 rules alternate this many times, args.seconds in all for each
PORT = 0  # a free port, picked at start (others run servers on this machine too)
BENCH_MARK = "bench-serving-v1"
RAW_PREFIX = "/bench/raw/"  # serving_floor.PREFIX: the raw libraries' list, served by the same workers


def setup_django(model_dir: Path):
    os.environ["MODEL_DIR"] = str(model_dir)
    import django

    django.setup()


# --- data ----------------------------------------------------------------------------------

def ensure_data() -> None:
    from django.db import connection

    from recsys.models import Item

    if Item.objects.filter(item_id="bench-item-0", attributes__bench=BENCH_MARK).exists():
        print("data: bench shop already in the DB, reusing it")
        return
    import numpy as np

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    with connection.cursor() as cur:
        cur.execute("TRUNCATE recsys_event, recsys_shopper, recsys_item RESTART IDENTITY CASCADE")
    cats = rng.integers(0, N_CATEGORIES, N_ITEMS)
    with connection.cursor() as cur, cur.copy(
            "COPY recsys_item (item_id, title, category, url, image_url, price, attributes, available, "
            "created_at, updated_at) FROM STDIN") as copy:
        for j in range(N_ITEMS):
            copy.write_row((f"bench-item-{j}", f"Bench item {j}", f"cat-{cats[j]}", f"https://shop.test/i/{j}",
                            f"https://img.shop.test/{j}.jpg", f"{5 + j % 95}.90", json.dumps({"bench": BENCH_MARK}),
                            True, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))
    with connection.cursor() as cur, cur.copy(
            "COPY recsys_shopper (user_id, personalization_consent, created_at, updated_at) FROM STDIN") as copy:
        for u in range(N_USERS):
            copy.write_row((f"bench-user-{u}", True, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))
    # Power-law popularity: item j is drawn with weight 1 / (j + 10)^0.9; each shopper also leans
    # to a home category (60% of their events).
    n_events = np.maximum(1, rng.geometric(1 / EVENTS_PER_USER, N_USERS)).clip(max=200)
    users = np.repeat(np.arange(N_USERS), n_events)
    weights = 1.0 / np.power(np.arange(N_ITEMS) + 10.0, 0.9)
    weights /= weights.sum()
    items = rng.choice(N_ITEMS, size=len(users), p=weights)
    by_cat = [np.flatnonzero(cats == c) for c in range(N_CATEGORIES)]
    home = rng.integers(0, N_CATEGORIES, N_USERS)
    lean = rng.random(len(users)) < 0.6
    for c in range(N_CATEGORIES):
        sel = lean & (home[users] == c)
        pool = by_cat[c]
        w = weights[pool] / weights[pool].sum()
        items[sel] = rng.choice(pool, size=int(sel.sum()), p=w)
    types = rng.choice(np.array(["view", "click", "add_to_cart", "purchase"]), size=len(users),
                       p=[0.7, 0.15, 0.1, 0.05])
    ages = rng.integers(0, 60 * 86400, len(users))
    now = time.time()
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM recsys_shopper ORDER BY id LIMIT 1")
        shopper0 = cur.fetchone()[0]
        cur.execute("SELECT id FROM recsys_item ORDER BY id LIMIT 1")
        item0 = cur.fetchone()[0]
    from datetime import UTC, datetime

    with connection.cursor() as cur, cur.copy(
            "COPY recsys_event (event_id, shopper_id, item_id, type, value, timestamp, recommendation_id, "
            "created_at) FROM STDIN") as copy:
        created = datetime.now(UTC).isoformat()
        for k in range(len(users)):
            ts = datetime.fromtimestamp(now - ages[k], UTC).isoformat()
            copy.write_row((f"be-{k}", shopper0 + int(users[k]), item0 + int(items[k]), str(types[k]), 1.0, ts, "",
                            created))
    with connection.cursor() as cur:
        cur.execute("ANALYZE recsys_event; ANALYZE recsys_shopper; ANALYZE recsys_item")
    print(f"data: {N_USERS:,} shoppers, {N_ITEMS:,} items, {len(users):,} events loaded with COPY in "
          f"{time.perf_counter() - started:.0f}s")


def extract_matrix():
    """The DB's events as the shopper x item confidence matrix (rows: shopper pk order)."""
    import numpy as np
    import scipy.sparse as sp
    from django.db import connection

    from recsys.ml.matrix import TYPE_CODES, event_weights
    from recsys.serving.weights import weight_config

    with connection.cursor() as cur:
        cur.execute("SELECT shopper_id, item_id, type, extract(epoch from timestamp) FROM recsys_event")
        rows = cur.fetchall()
        cur.execute("SELECT id, user_id FROM recsys_shopper ORDER BY id")
        shoppers = cur.fetchall()
        cur.execute("SELECT id, item_id FROM recsys_item ORDER BY id")
        catalog = cur.fetchall()
    s_pk = np.array([r[0] for r in rows])
    i_pk = np.array([r[1] for r in rows])
    codes = np.array([TYPE_CODES[r[2]] for r in rows])
    ts = np.array([float(r[3]) for r in rows])
    w = event_weights(codes, np.ones(len(rows)), ts, now=time.time(), config=weight_config({}))
    user_pks = np.array([s[0] for s in shoppers])
    item_pks = np.array([c[0] for c in catalog])
    m = sp.csr_matrix((w, (np.searchsorted(user_pks, s_pk), np.searchsorted(item_pks, i_pk))),
                      shape=(len(user_pks), len(item_pks)), dtype=np.float32)
    return m, np.array([s[1] for s in shoppers]), np.array([c[1] for c in catalog])


PARAMS = {"factors": FACTORS, "regularization": 0.05, "alpha": 2.0, "iterations": 10}


def train(model_dir: Path, m, user_ids, item_ids):
    """ALS straight from implicit, saved with artifacts.save; reused across runs when present."""
    import implicit
    import numpy as np
    import scipy.sparse as sp

    from recsys.ml import artifacts
    from recsys.models import ModelVersion

    als = implicit.cpu.als.AlternatingLeastSquares(factors=FACTORS, regularization=PARAMS["regularization"],
                                                    alpha=PARAMS["alpha"], iterations=PARAMS["iterations"],
                                                    random_state=0, num_threads=2)
    for version in ModelVersion.objects.filter(params__bench=BENCH_MARK).order_by("-pk"):
        path = artifacts.version_dir(model_dir, version.pk)
        try:
            art = artifacts.load(path, mmap_mode=None)
        except artifacts.ArtifactError:
            continue
        if art.user_factors.shape == (m.shape[0], FACTORS) and art.item_factors.shape == (m.shape[1], FACTORS):
            als.user_factors, als.item_factors = art.user_factors, art.item_factors
            print(f"model: reusing ALS v{version.pk} from {path}")
            return version.pk, als
    t = time.perf_counter()
    als.fit(m, show_progress=False)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    n = len(item_ids)
    ids, scores = als.similar_items(np.arange(n), N=SIM_K + 1)
    keep = ids != np.arange(n)[:, None]
    rows_i = np.repeat(np.arange(n), keep.sum(axis=1))
    sim = sp.csr_matrix((scores[keep], (rows_i, ids[keep])), shape=(n, n), dtype=np.float32)
    sim_s = time.perf_counter() - t
    version = ModelVersion.objects.create(kind="als", params={**PARAMS, "bench": BENCH_MARK})
    art = artifacts.Artifact(kind="als", version=version.pk, user_ids=user_ids, item_ids=item_ids, similarity=sim,
                             user_factors=als.user_factors, item_factors=als.item_factors, params=PARAMS)
    artifacts.save(art, model_dir)
    print(f"model: ALS {FACTORS} factors on {m.shape[0]:,} x {m.shape[1]:,} ({m.nnz:,} nonzeros): fit {fit_s:.1f}s, "
          f"top-{SIM_K} similarities {sim_s:.1f}s -> v{version.pk}")
    return version.pk, als


def activate(version: int) -> None:
    from django.utils import timezone

    from recsys.models import ModelVersion

    ModelVersion.objects.filter(is_active=True).exclude(pk=version).update(is_active=False)
    ModelVersion.objects.filter(pk=version).update(is_active=True, activated_at=timezone.now())


# --- load generation -----------------------------------------------------------------------

def _client(path_kind: str, users: list[str], token: str, seconds: float, seed: int, out) -> None:
    import http.client

    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", PORT)
    headers = {"Authorization": f"Token {token}"}
    lat, errors = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        user = rnd.choice(users)
        path = {"healthz": "/healthz", "popular": f"/api/v1/popular/?limit={LIMIT}",
                "raw": f"{RAW_PREFIX}{user}"}.get(
            path_kind, f"/api/v1/users/{user}/recommendations/?limit={LIMIT}&placement={PLACEMENT}")
        t = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", PORT)
            continue
        lat.append(time.perf_counter() - t)
    out.put((lat, errors))


def load(path_kind: str, users: list[str], token: str, seconds: float, clients: int = 4) -> dict:
    q = mp.Queue()
    procs = [mp.Process(target=_client, args=(path_kind, users, token, seconds, i, q)) for i in range(clients)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    lat = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000

    return {"requests": len(lat), "errors": errors, "rps": len(lat) / seconds, "p50": pct(50), "p90": pct(90),
            "p99": pct(99), "lat": lat}


def merged(results: list[dict]) -> dict:
    """Percentiles over several phases' latencies together."""
    lat = sorted(x for r in results for x in r["lat"])

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000

    return {"requests": len(lat), "errors": sum(r["errors"] for r in results), "p50": pct(50), "p90": pct(90),
            "p99": pct(99)}


# --- memory ----------------------------------------------------------------------------------

def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def memory(pid: int, model_path: Path) -> dict:
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        rollup[key] = int(value.split()[0]) * 1024
    mapped_rss = mapped_pss = 0
    current = None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if not line.endswith("kB") and len(parts) >= 5 and "-" in parts[0]:
            current = parts[5] if len(parts) > 5 else ""
        elif current and current.startswith(str(model_path)):
            if parts[0] == "Rss:":
                mapped_rss += int(parts[1]) * 1024
            elif parts[0] == "Pss:":
                mapped_pss += int(parts[1]) * 1024
    return {"rss": rollup.get("Rss", 0), "pss": rollup.get("Pss", 0), "model_rss": mapped_rss,
            "model_pss": mapped_pss}


def cpu_times(pids: list[int]) -> dict[int, float]:
    """utime + stime (seconds) of each of the given processes that is still running."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a backend that closed its connection (CONN_MAX_AGE) mid-phase
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_ms_per_request(pids: list[int], before: dict[int, float], requests: int) -> float:
    """CPU the processes alive at both ends spent since `before`, per request (ms)."""
    after = cpu_times(pids)
    spent = sum(after[p] - before[p] for p in before.keys() & after.keys())
    return spent / max(requests, 1) * 1000


def postgres_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "postgres: .*curio_serving"], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


# --- curation rules ----------------------------------------------------------------------------

def create_rules(n_items: int) -> dict:
    """1,000 rules of mixed types through curation.services, created disabled (phases switch them)."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from curation import services

    delete_rules()
    rng = random.Random(5)
    now = timezone.now()
    # Items drawn from the popular head, so the rules meet the lists the load asks for.
    head = min(n_items, 3000)
    # Diversity caps among them, and a 10% holdout on a fifth of the pins, boosts and annotations.
    kinds = ["block"] * 290 + ["boost"] * 290 + ["pin"] * 190 + ["annotation"] * 190 + ["diversity"] * 40
    counts: dict[str, int] = {}
    with transaction.atomic():
        for kind in kinds:
            data: dict = {"placement": PLACEMENT, "enabled": False, "priority": rng.randint(0, 3)}
            if kind == "diversity":
                if rng.random() < 0.5:
                    data["max_per_category"] = rng.randint(2, 4)
                else:
                    data["max_per_attribute"] = {"brand": rng.randint(2, 4)}
            elif kind in ("block", "boost") and rng.random() < 0.05:
                data["item_category"] = f"cat-{rng.randrange(N_CATEGORIES)}"
            else:
                data["item_id"] = f"bench-item-{rng.randrange(head)}"
            if kind == "boost":
                data["strength"] = round(rng.uniform(-1, 1), 2)
            elif kind == "pin":
                data["position"] = rng.randint(1, 12)
                if rng.random() < 0.5:  # half only on category lists
                    data["category"] = f"cat-{rng.randrange(N_CATEGORIES)}"
            elif kind == "annotation":
                data["label"] = "Staff pick"
            if kind in ("pin", "boost", "annotation"):
                data["holdout_share"] = 0.1 if rng.random() < 0.2 else 0.0
            if rng.random() < 0.1:
                data["starts_at"] = now - timedelta(days=1)
                data["ends_at"] = now + timedelta(days=rng.choice([1, 2]))
            elif rng.random() < 0.1:
                data["segment"] = rng.choice(["new", "returning"])
            services.rule_create(kind=kind, data=data, actor=RULES_ACTOR)
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def set_rules_enabled(enabled: bool) -> None:
    from curation import services
    from curation.models import Rule

    services.rules_set_enabled(rules=Rule.objects.filter(created_by=RULES_ACTOR), enabled=enabled, actor=RULES_ACTOR)
    time.sleep(1.2)  # every process re-reads the rules stamp within CURIO_CURATION_CHECK_SECONDS


def delete_rules() -> None:
    from curation import services
    from curation.models import Rule

    if Rule.objects.filter(created_by=RULES_ACTOR).delete()[0]:
        services.rules_stamp_bump()


def curation_load(args, users, token, workers) -> tuple[dict[bool, list[dict]], int, int]:
    """Recommendation phases with the 1,000 rules disabled and enabled, alternating (so drift in the
    machine's load hits both), each with the workers' CPU per request; then how many listed items
    the rules touched."""
    phases: dict[bool, list[dict]] = {False: [], True: []}
    enabled = False
    for want in (False, True) * args.rounds:
        if want != enabled:
            set_rules_enabled(want)
            enabled = want
            # Every worker reloads the rules on its next request (once per change): warm that up apart,
            # so the phases compare steady states. The reload itself is timed in bench_curation.py.
            load("recs", users, token, 1.0)
        pg = postgres_pids()
        cpu0, pg0 = cpu_times(workers), cpu_times(pg)
        phase = load("recs", users, token, args.seconds / args.rounds)
        phase["worker_cpu_s"] = sum(cpu_times(workers).values()) - sum(cpu0.values())
        phase["pg_cpu_ms"] = cpu_ms_per_request(pg, pg0, phase["requests"])
        phases[want].append(phase)
    touched = listed = 0
    for u in users[:50]:  # the rules do act on these lists
        req = urllib.request.Request(
            f"http://127.0.0.1:{PORT}/api/v1/users/{u}/recommendations/?limit={LIMIT}&placement={PLACEMENT}",
            headers={"Authorization": f"Token {token}"})
        items = json.loads(urllib.request.urlopen(req).read())["items"]
        listed += len(items)
        touched += sum(i["source"] in ("pinned", "boosted") or bool(i["annotations"]) for i in items)
    set_rules_enabled(False)
    return phases, touched, listed


def print_curation(args, phases: dict[bool, list[dict]], touched: int, listed: int) -> None:
    off, on = merged(phases[False]), merged(phases[True])
    cpu = {want: sum(p["worker_cpu_s"] for p in phases[want]) * 1000 / max(1, sum(p["requests"] for p in phases[want]))
           for want in (False, True)}
    pg_cpu = {want: statistics.mean(p["pg_cpu_ms"] for p in phases[want]) for want in (False, True)}
    for name, r, c, g in (("recs, 0 rules", off, cpu[False], pg_cpu[False]),
                          ("recs, 1,000 rules", on, cpu[True], pg_cpu[True])):
        print(f"{name:18s} {r['requests']:6d} req in {args.rounds} x {args.seconds / args.rounds:.1f}s (alternating), "
              f"errors {r['errors']}, "
              f"p50 {r['p50']:.2f} ms, p90 {r['p90']:.2f} ms, p99 {r['p99']:.2f} ms, worker CPU {c:.2f} ms/req, "
              f"PostgreSQL CPU {g:.2f} ms/req")
    # Each round is a 0-rule phase then a 1,000-rule phase: the paired differences show the spread that
    # drift in the machine's speed leaves (other tenants share its CPU caches).
    rounds = [(b["p50"] - a["p50"], (b["worker_cpu_s"] / b["requests"] - a["worker_cpu_s"] / a["requests"]) * 1000)
              for a, b in zip(phases[False], phases[True], strict=True)]
    print("curation per round (1,000 rules minus 0 rules): p50 " + ", ".join(f"{d:+.2f}" for d, _ in rounds)
          + " ms; worker CPU " + ", ".join(f"{c:+.2f}" for _, c in rounds) + " ms/req")
    p50_mid, cpu_mid = (statistics.median(x[k] for x in rounds) for k in (0, 1))
    print(f"curation, median of the {len(rounds)} paired rounds: p50 {p50_mid:+.2f} ms, worker CPU {cpu_mid:+.2f} "
          "ms/req (robust to the rounds a slow spell of the machine hit)")
    print(f"curation: 1,000 active rules add {on['p50'] - off['p50']:+.2f} ms to the recommendations p50 "
          f"({off['p50']:.2f} -> {on['p50']:.2f} ms; target <= +1 ms) and {cpu[True] - cpu[False]:+.2f} ms of worker "
          f"CPU per request; with them on, {touched} of {listed} listed items were pinned, boosted or annotated")


def curation_only(args, users, token, workers) -> None:
    phases, touched, listed = curation_load(args, users, token, workers)
    print_curation(args, phases, touched, listed)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


# --- in-process measurements -----------------------------------------------------------------

def model_part_vs_raw(users: list[str], m, als) -> None:
    """Model part of a request (our fold-in + top-k + explanation) vs implicit.recommend."""
    import numpy as np
    from django.utils import timezone
    from threadpoolctl import threadpool_limits

    from recsys.serving import candidates as cand_mod
    from recsys.serving.model_store import active_model
    from recsys.serving.reads import shopper_histories

    threadpool_limits(1)
    als.num_threads = 1
    model = active_model()
    sample = users[:300]
    hist = shopper_histories(user_ids=sample, limit=500)
    rows = [int(u.rsplit("-", 1)[1]) for u in sample]
    now = timezone.now().timestamp()
    n = LIMIT * 2 + 10  # as lists.py asks the model for

    def ours():
        for u in sample:
            job = cand_mod.PersonalJob(cand_mod.model_history(model, hist[u], now), n, False)
            cand_mod.score_personal(model, [job])

    def raw():
        for r in rows:
            als.recommend(r, m[r], N=LIMIT)

    def raw_recalc():
        for r in rows:
            als.recommend(r, m[r], N=LIMIT, recalculate_user=True)

    results = {}
    for name, fn in (("ours", ours), ("raw", raw), ("raw_recalc", raw_recalc)):
        fn()  # warm
        best = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            best.append((time.perf_counter() - t) / len(sample) * 1000)
        results[name] = float(np.median(best))
    print(f"model part per request (in process, 1 thread, {len(sample)} shoppers, median of 3): "
          f"ours (history -> fold-in + top-{n} + explanations) {results['ours']:.3f} ms; "
          f"implicit recommend N={LIMIT} {results['raw']:.3f} ms "
          f"(ratio {results['ours'] / results['raw']:.2f}x); "
          f"implicit recommend recalculate_user=True {results['raw_recalc']:.3f} ms "
          f"(ratio {results['ours'] / results['raw_recalc']:.2f}x)")


def impressions_in_process(users: list[str], token: str) -> None:
    """Recommendations p50 with impression recording off and on (CURIO_IMPRESSIONS), through the full
    Django stack in process, alternating blocks of 100 requests (the background flusher runs)."""
    import statistics

    from django.test import Client, override_settings

    client = Client()
    lat: dict[bool, list[float]] = {False: [], True: []}
    sample = users[1000:1800]
    for block in range(8):
        enabled = block % 2 == 1
        with override_settings(IMPRESSIONS_ENABLED=enabled):
            for u in sample[block * 100:(block + 1) * 100]:
                t = time.perf_counter()
                client.get(f"/api/v1/users/{u}/recommendations/?limit={LIMIT}&placement={PLACEMENT}",
                           HTTP_AUTHORIZATION=f"Token {token}")
                lat[enabled].append(time.perf_counter() - t)
    off, on = (statistics.median(lat[k]) * 1000 for k in (False, True))
    print(f"impressions (in process, full Django stack, 4 x 100 requests each, alternating): p50 off {off:.2f} ms, "
          f"on {on:.2f} ms ({on - off:+.2f} ms)")


def profile_request(users: list[str], token: str) -> None:
    from django.test import Client

    client = Client()
    for u in users[:50]:
        client.get(f"/api/v1/users/{u}/recommendations/?limit={LIMIT}&placement={PLACEMENT}",
                   HTTP_AUTHORIZATION=f"Token {token}")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    prof = cProfile.Profile()
    sample = users[50:250]
    t = time.perf_counter()
    queries = CaptureQueriesContext(connection)
    queries.__enter__()
    prof.enable()
    for u in sample:
        client.get(f"/api/v1/users/{u}/recommendations/?limit={LIMIT}&placement={PLACEMENT}",
                   HTTP_AUTHORIZATION=f"Token {token}")
    prof.disable()
    queries.__exit__(None, None, None)
    wall = (time.perf_counter() - t) / len(sample) * 1000
    n_queries = len(queries.captured_queries)
    stats = pstats.Stats(prof)
    total = sum(v[3] for v in stats.stats.values() if v)  # not used: cumulative of top frames below
    del total
    stages = {
        "token auth (cached per process)": ("auth.py", "authenticate"),
        "throttle (sliding-window counter)": ("auth.py", "allow_request"),
        "query parameters (hand-parsed fast path)": ("lists.py", "_list_params"),
        "history + not-interested + unavailable": ("shoppers.py", "serving_reads"),
        "fold-in + top-k + explain": ("candidates.py", "score_personal"),
        "history -> model columns": ("candidates.py", "model_history"),
        "popular refill (cached)": ("popular.py", "popular_items"),
        "item cards (cached)": ("catalog.py", "item_cards"),
        "availability query (only past the inline max)": ("items.py", "unavailable_item_ids"),
        "item cards query (cache misses)": ("items.py", "item_cards"),
        "curation engine": ("rules.py", "apply"),
        "serve_lists (all of the above but auth)": ("lists.py", "serve_lists"),
        "JSON rendering": ("renderers.py", "render"),
    }
    print(f"profile: {len(sample)} personal requests through the full Django stack in process "
          f"({wall:.2f} ms/request under cProfile, {n_queries / len(sample):.2f} DB queries/request); "
          "cumulative ms per request:")
    for label, (filename, func) in stages.items():
        cum = sum(v[3] for k, v in stats.stats.items() if k[0].endswith(filename) and k[2] == func)
        print(f"  {label:42s} {cum / len(sample) * 1000:6.2f}")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(8)
    print("  top functions by own time:")
    for line in buf.getvalue().splitlines():
        if line.strip() and ("{" in line or "/" in line) and "ncalls" not in line:
            print("   ", line.strip()[:150])


# --- main ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0, help="per load phase")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help="curation phases: 0 and 1,000 rules alternate this often")
    parser.add_argument("--only-curation", action="store_true",
                        help="only the curation phases (0 and 1,000 rules), after the warm-up")
    args = parser.parse_args()
    if "postgres" not in os.environ.get("DATABASE_URL", ""):
        sys.exit("set DATABASE_URL=postgres://... (the bench COPYs its shop into PostgreSQL)")
    global PORT
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        PORT = sock.getsockname()[1]
    model_dir = ROOT / "var" / "bench-serving-models"
    model_dir.mkdir(parents=True, exist_ok=True)
    setup_django(model_dir)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    ensure_data()
    from recsys.clients.services import api_client_create
    from recsys.ml import artifacts
    from recsys.models import Shopper

    t = time.perf_counter()
    m, user_ids, item_ids = extract_matrix()
    print(f"matrix: {m.shape[0]:,} x {m.shape[1]:,}, {m.nnz:,} nonzeros, extracted in {time.perf_counter() - t:.1f}s")
    version, als = train(model_dir, m, user_ids, item_ids)
    activate(version)
    _, token = api_client_create(name=f"bench-{time.time_ns()}", scope="read")
    rnd = random.Random(1)
    users = [f"bench-user-{rnd.randrange(N_USERS)}" for _ in range(5000)]
    assert Shopper.objects.filter(user_id=users[0]).exists()
    model_path = artifacts.version_dir(model_dir, version)
    t = time.perf_counter()
    rule_counts = create_rules(N_ITEMS)
    print(f"curation: {sum(rule_counts.values()):,} rules ({', '.join(f'{v} {k}s' for k, v in rule_counts.items())}) "
          f"created through curation.services in {time.perf_counter() - t:.1f}s, placement {PLACEMENT!r}, disabled "
          "until their phases")

    env = dict(os.environ, MODEL_DIR=str(model_dir), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               LOG_LEVEL="WARNING")
    # serving_floor.application is config.wsgi.application plus the raw-libraries path (the floor).
    cmd = [str(ROOT / ".venv/bin/gunicorn"), "serving_floor:application", "--pythonpath", str(ROOT / "bench"),
           "-b", f"127.0.0.1:{PORT}",
           "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
           "--keep-alive", "30", "--preload", "--log-level", "warning"]
    print(f"server: {' '.join(cmd[1:])} (DEBUG=0, BLAS 1 thread, PostgreSQL CONN_MAX_AGE=60, "
          "default per-client throttle, no Redis)")
    # Before activation: the same workers serve popular lists, so the memory delta is the model's.
    active_stamp = model_dir / artifacts.ACTIVE_STAMP
    active_stamp.unlink(missing_ok=True)
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None:
                    sys.exit("gunicorn exited")
                time.sleep(0.2)
        workers = worker_pids(server.pid)
        for _ in range(5):  # warm both workers: popular lists, item cards, connections
            load("recs", users, token, 3)
            if min(memory(p, model_path)["rss"] for p in workers) > 120 * 2**20:
                break
        before = {p: memory(p, model_path) for p in workers}
        artifacts.write_active_stamp(model_dir, version)
        time.sleep(1.5)
        warm = load("recs", users, token, 20)  # steady state: model pages and item cards warm
        load("raw", users, token, 3)  # the floor's connections and prepared statements too
        if args.only_curation:
            curation_only(args, users, token, workers)
            return
        health = load("healthz", users, token, args.seconds)
        pg = postgres_pids()
        cpu0, pg0 = cpu_times(workers), cpu_times(pg)
        recs = load("recs", users, token, args.seconds)
        recs["worker_cpu_ms"] = cpu_ms_per_request(workers, cpu0, recs["requests"])
        recs["pg_cpu_ms"] = cpu_ms_per_request(pg, pg0, recs["requests"])
        cpu0 = cpu_times(workers)
        floor = load("raw", users, token, args.seconds)
        floor["worker_cpu_ms"] = cpu_ms_per_request(workers, cpu0, floor["requests"])
        cpu0 = cpu_times(workers)
        pop = load("popular", users, token, args.seconds)
        pop["worker_cpu_ms"] = cpu_ms_per_request(workers, cpu0, pop["requests"])
        curation_phases, touched, listed = curation_load(args, users, token, workers)
        health2 = load("healthz", users, token, args.seconds)
        after = {p: memory(p, model_path) for p in workers}
        req = urllib.request.Request(f"http://127.0.0.1:{PORT}/api/v1/users/{users[0]}/recommendations/",
                                     headers={"Authorization": f"Token {token}"})
        sample_body = json.loads(urllib.request.urlopen(req).read())
        batch_users = users[:500]
        req = urllib.request.Request(f"http://127.0.0.1:{PORT}/api/v1/recommendations/batch/",
                                     data=json.dumps({"user_ids": batch_users, "limit": LIMIT}).encode(),
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
        t = time.perf_counter()
        batch_body = json.loads(urllib.request.urlopen(req).read())
        batch_s = time.perf_counter() - t
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        delete_rules()

    from recsys.serving.model_store import active_model

    model = active_model()
    arrays = model.array_bytes()
    n_events = m.nnz
    print(f"data: {N_USERS:,} shoppers x {N_ITEMS:,} items, {n_events:,} shopper-item pairs; model v{version}: "
          + ", ".join(f"{k} {mb(v)}" for k, v in arrays.items()) + f"; total {mb(sum(arrays.values()))}")
    print(f"sample list: model_version={sample_body['model_version']}, "
          f"{len(sample_body['items'])} items, first {sample_body['items'][0]['source']} "
          f"{sample_body['items'][0]['reasons'][0]['text']!r}")
    print(f"warm-up after activation: {warm['requests']} requests, {warm['errors']} errors")
    full = sum(len(r["items"]) == LIMIT for r in batch_body["results"])
    print(f"batch: {len(batch_users)} shoppers in one POST /recommendations/batch/ in {batch_s * 1000:.0f} ms "
          f"({batch_s / len(batch_users) * 1000:.2f} ms per shopper), {full} full lists")
    health_rps = (health["rps"] + health2["rps"]) / 2
    for name, r in (("healthz (before)", health), ("recommendations", recs), ("raw libraries floor", floor),
                    ("popular (context)", pop), ("healthz (after)", health2)):
        cpu = f", worker CPU {r['worker_cpu_ms']:.2f} ms/req" if "worker_cpu_ms" in r else ""
        cpu += f", PostgreSQL CPU {r['pg_cpu_ms']:.2f} ms/req" if "pg_cpu_ms" in r else ""
        print(f"{name:18s} {r['requests']:6d} req in {args.seconds:.0f}s, {r['rps']:7.1f} req/s, errors {r['errors']}, "
              f"p50 {r['p50']:.2f} ms, p90 {r['p90']:.2f} ms, p99 {r['p99']:.2f} ms{cpu}")
    print(f"throughput: recommendations {recs['rps']:.1f} req/s = {recs['rps'] / health_rps * 100:.0f}% of /healthz "
          f"({health_rps:.1f} req/s, mean of the two phases); target >= 40%; p50 target <= 10 ms, p99 <= 40 ms")
    print(f"floor: the raw libraries alone (psycopg prepared history query + implicit recommend "
          f"recalculate_user=True, no Django) {floor['rps']:.1f} req/s = {floor['rps'] / health_rps * 100:.0f}% of "
          f"/healthz; recommendations = {recs['rps'] / floor['rps'] * 100:.0f}% of the floor")
    total_pss_delta = sum(after[p]["pss"] - before[p]["pss"] for p in workers)
    model_pss = sum(after[p]["model_pss"] for p in workers)
    used = sum(v for k, v in arrays.items() if k != "user_factors")
    for p in workers:
        a, b = after[p], before[p]
        print(f"worker {p}: RSS {mb(a['rss'])} (before model {mb(b['rss'])}), PSS {mb(a['pss'])} "
              f"(before {mb(b['pss'])}); model files mapped: RSS {mb(a['model_rss'])}, PSS {mb(a['model_pss'])}")
    print(f"memory: model files PSS summed over {len(workers)} workers {mb(model_pss)} = "
          f"{model_pss / sum(arrays.values()):.2f}x all arrays ({mb(sum(arrays.values()))}), "
          f"{model_pss / used:.2f}x the arrays serving reads ({mb(used)}; user_factors are never touched: "
          f"shoppers are folded in); total PSS growth of all workers after activation {mb(total_pss_delta)} = "
          f"{total_pss_delta / sum(arrays.values()):.2f}x all arrays; target <= 1.2x")
    print_curation(args, curation_phases, touched, listed)
    model_part_vs_raw(users, m, als)
    impressions_in_process(users, token)
    profile_request(users, token)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
