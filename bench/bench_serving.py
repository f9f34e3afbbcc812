"""Serving benchmark (issue #26): every list type under wrk, against /healthz and the raw floor, in one run.

    .venv/bin/python bench/bench_serving.py                        # one run, 20 s a phase
    .venv/bin/python bench/bench_serving.py --runs 3 --rules 1000 --profile
    .venv/bin/python bench/bench_serving.py --deployment all --phases healthz,personal --runs 3
    .venv/bin/python bench/bench_serving.py --app-dir /tmp/curio-before   # serve another checkout ("before")

The shop (built once per database, skipped when its mark is there): 50,000 shoppers x 20,000 items x
~1,000,000 events from a seeded generator of ours: shopper activity log-normal (median ~10-11 events, 99th
percentile ~145), item popularity a power law (item at rank r weighs 1/(r+10)^0.9), 100 categories of
skewed sizes, each shopper leaning to a home category (60% of their events), brand and colour attributes,
2.5% of the items unavailable, events over the last 60 days COPYed into PostgreSQL in time order (as an
ingestion stream leaves them on disk). The model is trained directly with implicit on the same
confidences (ALS, 64 factors; `--kind bm25`: implicit's BM25 item-item model, top-50 neighbours kept),
saved with recsys.ml.artifacts, stored and activated as training does; reused when present.

Served as docs/operations.md says: PostgreSQL and Redis (REDIS_URL, the bench's own db), gunicorn with
config/gunicorn.conf.py, 3 workers x 1 gthread, keep-alive 30, --preload, OPENBLAS_NUM_THREADS=1, DEBUG=0,
plus a Celery worker (`-Q celery,training --concurrency 2`) that writes the impressions the lists push to
Redis (`--no-celery` leaves it out). The WSGI app is bench/serving_floor.py: Curio's app plus the raw floor
`/bench/raw/<user>` (a prepared history query + implicit's recommend, no Django), served by the same
workers, and a per-process request counter (an 8-byte memory map per worker) that gives each worker's exact
share of the requests.

Load: Debian's wrk (a C client), 4 connections, 2 threads, keep-alive, `--seconds` per phase, with
bench/wrk_lists.lua picking a random prepared request per call from a file (10,000 known shoppers,
unknown shoppers, items or baskets), `limit=10&placement=home`, and printing wrk's latency percentiles as
JSON. Phases, all in the same run: /healthz, the raw floor, personal (read token + a valid
Curio-Shopper-Signature when the served code has signed shoppers, else the read token alone), personal with
the write token, personal `raw=true`, unknown shoppers (popular fill), popular, similar items (random
items), basket (POST, 2-3 random items), and with `--rules N` personal again with N mixed curation rules on
(created disabled through curation.services, deleted at the end). Every phase gets its own API clients (a
fresh throttle budget: the phases of a run would otherwise add up in the client's one-minute window) and a
short warm-up that has every worker serve it. Per phase: rps, p50, p99, max, the ratio to /healthz and to
the raw floor, CPU ms per request (/proc, sampled every 0.5 s during the phase) of the gunicorn workers, of
PostgreSQL (this database's backends and the server's background processes) and of Redis (redis-server; shared
with whoever else uses it), the Celery worker and wrk, "others": the busy CPU none of these used (other jobs on
a shared machine), and each worker's share of the requests. `--runs 3` restarts the server for each run and
prints the medians. Before each phase the bench waits (`--quiet-wait`, `--quiet-busy`) for a quiet machine.

`--profile`: py-spy records every worker during one more personal phase (after the measured ones) and the
top functions by own and total samples are printed (samples of threads not sleeping: running, or runnable and
waiting for a CPU; `--profile-idle` adds the sleeping ones, `--profile-gil` keeps only the GIL holder).
`--deployment` compares gunicorn set-ups for balance (shares per worker, rps, p50, p99), interleaved run by run;
`all` runs them all. `--report RESULTS_JSON...` prints the tables of earlier runs again (runs pooled).
`--app-dir` serves another checkout (cwd, PYTHONPATH, config/gunicorn.conf.py, migrations and Django code of
the bench process are all that checkout's): give each checkout its own database (its schema follows its
migrations); without `--database-url` one is named after the checkout.

Everything started (gunicorn, Celery, wrk, py-spy) is stopped at the end, on Ctrl-C and on errors.
Outputs (wrk JSON, server logs, request files, profiles, results.json) go to var/bench-serving/runs/<time>/.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LUA = BENCH / "wrk_lists.lua"
VENV_BIN = Path(sys.executable).parent
START_ENV = dict(os.environ)  # the servers' environment starts from the caller's, not from this process's Django

SHOP_VERSION = "bench-lists-v1"
N_CATEGORIES, N_BRANDS, COLORS = 100, 400, ("black", "white", "red", "blue", "green", "grey", "beige", "navy",
                                            "pink", "brown", "yellow", "orange")
EVENT_TYPES = ("view", "click", "add_to_cart", "purchase")
TYPE_P = (0.70, 0.15, 0.10, 0.05)
TYPE_WEIGHT = (1.0, 2.0, 4.0, 8.0)  # CURIO_WEIGHT_* defaults (docs/operations.md)
HALF_LIFE_DAYS, DAYS = 365.0, 60
UNAVAILABLE_SHARE = 0.025
FACTORS, SIM_K, LIMIT = 64, 50, 10
ALS_PARAMS = {"factors": FACTORS, "regularization": 0.05, "alpha": 2.0, "iterations": 10}
BM25_PARAMS = {"kind": "bm25", "K": 100, "K1": 1.2, "B": 0.75}
PLACEMENT = "home"  # every list asks for it; the curation rules are scoped to it
RULES_ACTOR = "bench:serving"
CLIENT_PREFIX = "bench-serving-"
SAMPLE = 10_000  # prepared requests per phase file
SIGNATURE_TTL = 12 * 3600

PHASES = {  # name -> (label, what the requests are, token: None | "read" | "write", signed)
    "healthz": ("/healthz", "GET /healthz", None, False),
    "floor": ("raw floor", "GET /bench/raw/<known shopper> (serving_floor.py, no Django)", None, False),
    "personal": ("personal", "GET /users/<known>/recommendations/", "read", True),
    "personal+rules": ("personal, N rules", "personal with --rules N curation rules on", "read", True),
    "personal-write": ("personal, write token", "personal with the write token (no signature)", "write", False),
    "raw": ("personal raw=true", "GET /users/<known>/recommendations/?raw=true", "read", True),
    "unknown": ("unknown shopper", "GET /users/<unknown>/recommendations/ (popular fill)", "read", True),
    "popular": ("popular", "GET /popular/", "read", False),
    "similar": ("similar items", "GET /items/<random item>/similar/", "read", False),
    "basket": ("basket", "POST /recommendations/basket/ with 2-3 random items", "read", False),
}
DEFAULT_PHASES = ["healthz", "floor", "personal", "personal+rules", "personal-write", "raw", "unknown", "popular",
                  "similar", "basket"]

GUNICORN_BASE = ["--workers", "3", "--worker-class", "gthread", "--threads", "1", "--keep-alive", "30", "--preload"]
DEPLOYMENTS = {  # name -> (what it is, gunicorn arguments after the documented ones; the command line wins)
    "documented": ("docs/operations.md: 3 gthread workers x 1 thread, keep-alive 30, with the checkout's "
                   "config/gunicorn.conf.py", []),
    "default-wc": ("documented with gunicorn's default --worker-connections 1000 (what 60719a9 ran): a worker "
                   "accepts every connection it can", ["--worker-connections", "1000"]),
    "reuse-port": ("default-wc + --reuse-port: a listening socket per worker, the kernel spreads new connections "
                   "over them by a hash of the address pair", ["--worker-connections", "1000", "--reuse-port"]),
    "wc2": ("documented + --worker-connections 2: a worker with 2 connections stops accepting, and with one kept "
            "alive it closes the other after its response (the client reconnects, to any worker)",
            ["--worker-connections", "2"]),
    "5-workers": ("5 gthread workers x 1 thread (default --worker-connections): more workers than connections",
                  ["--workers", "5", "--worker-connections", "1000"]),
    "sync": ("3 sync workers: no keep-alive, every request a new connection that an idle worker accepts",
             ["--worker-class", "sync"]),
    "close": ("default-wc, but every request on a new connection (wrk sends Connection: close, as nginx does to "
              "an upstream without `keepalive`)", ["--worker-connections", "1000"]),
}
CLOSE_DEPLOYMENTS = {"close"}  # the client side of the deployment: a new connection per request


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- processes: everything started here is stopped at the end -------------------------------------------

class Processes:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], **kw) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kw)  # its own group: stopped with its children
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 30.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # children left behind by a process that exited first (a worker of a killed master)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def stop_all(self) -> None:
        for _name, proc in reversed(list(self.procs)):
            self.stop(proc)


PROCS = Processes()


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# --- the shop -----------------------------------------------------------------------------------------------

@dataclass
class Shop:
    n_users: int
    n_items: int
    seed: int
    mark: str = ""
    counts: object = None  # events per shopper
    ev_user: object = None
    ev_item: object = None
    ev_type: object = None
    ev_age: object = None  # seconds before the load
    category: object = None
    brand: object = None
    color: object = None
    price: object = None
    available: object = None
    by_rank: object = None  # item indexes, most popular first
    stats: dict = field(default_factory=dict)


def generate_shop(n_users: int, n_items: int, n_events: int, seed: int) -> Shop:
    """Deterministic for (sizes, seed): regenerated on every run, loaded into the database once."""
    import numpy as np

    rng = np.random.default_rng(seed)
    shop = Shop(n_users, n_items, seed, mark=f"{SHOP_VERSION}:{n_users}x{n_items}x{n_events}:seed{seed}")
    # Activity: log-normal, median 10.5 and 99th percentile ~145 events per shopper at 20 events on average.
    raw = rng.lognormal(mean=np.log(10.5), sigma=1.13, size=n_users)
    counts = np.maximum(1, np.round(raw * n_events / raw.sum())).astype(np.int64)
    shop.counts = counts
    cat_w = 1.0 / (np.arange(N_CATEGORIES) + 3.0)
    shop.category = rng.choice(N_CATEGORIES, size=n_items, p=cat_w / cat_w.sum())
    brand_w = 1.0 / (np.arange(N_BRANDS) + 2.0)
    shop.brand = rng.choice(N_BRANDS, size=n_items, p=brand_w / brand_w.sum())
    shop.color = rng.integers(0, len(COLORS), n_items)
    shop.price = np.round(np.exp(rng.normal(3.3, 0.8, n_items)), 2) + 0.99
    shop.available = rng.random(n_items) >= UNAVAILABLE_SHARE
    shop.by_rank = rng.permutation(n_items)
    weights = np.empty(n_items)
    weights[shop.by_rank] = 1.0 / np.power(np.arange(n_items) + 10.0, 0.9)
    weights /= weights.sum()
    users = np.repeat(np.arange(n_users), counts)
    items = rng.choice(n_items, size=len(users), p=weights)
    cat_mass = np.bincount(shop.category, weights=weights, minlength=N_CATEGORIES)
    home = rng.choice(N_CATEGORIES, size=n_users, p=cat_mass / cat_mass.sum())
    lean = rng.random(len(users)) < 0.6
    for c in range(N_CATEGORIES):
        sel = lean & (home[users] == c)
        pool = np.flatnonzero(shop.category == c)
        if len(pool) and sel.any():
            items[sel] = rng.choice(pool, size=int(sel.sum()), p=weights[pool] / weights[pool].sum())
    types = rng.choice(len(EVENT_TYPES), size=len(users), p=TYPE_P)
    ages = rng.integers(0, DAYS * 86400, len(users))
    order = np.argsort(-ages, kind="stable")  # oldest first: the order an event stream is ingested in
    shop.ev_user, shop.ev_item, shop.ev_type, shop.ev_age = users[order], items[order], types[order], ages[order]
    pop = np.bincount(items, minlength=n_items)
    shop.stats = {"events": int(len(users)), "median": float(np.median(counts)),
                  "p90": float(np.percentile(counts, 90)), "p99": float(np.percentile(counts, 99)),
                  "max": int(counts.max()), "mean": float(counts.mean()),
                  "items_with_events": int((pop > 0).sum()), "top1_share": float(pop.max() / len(users)),
                  "top1pct_items_share": float(np.sort(pop)[::-1][: max(1, n_items // 100)].sum() / len(users)),
                  "unavailable": int((~shop.available).sum())}
    return shop


def user_id(u: int) -> str:
    return f"bench-user-{u}"


def item_id(j: int) -> str:
    return f"bench-item-{j}"


def ensure_data(shop: Shop, reload: bool) -> None:
    from django.db import connection

    from recsys.models import Item

    if not reload and Item.objects.filter(item_id=item_id(0), attributes__bench=shop.mark).exists():
        log(f"data: the shop {shop.mark} is already in the database, reusing it")
        return
    with connection.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM recsys_event)")
        has_events = cur.fetchone()[0]
    if has_events and not reload and not Item.objects.filter(
            item_id=item_id(0), attributes__bench__startswith="bench-").exists():
        sys.exit(f"the database {connection.settings_dict['NAME']} holds events that are not a bench shop: give the "
                 "bench a database of its own (--database-url), or --reload to replace them")
    import numpy as np

    started = time.perf_counter()
    log(f"data: loading {shop.mark} with COPY ...")
    with connection.cursor() as cur:
        cur.execute("TRUNCATE recsys_event, recsys_shopper, recsys_item RESTART IDENTITY CASCADE")
    created = "2026-01-01T00:00:00Z"
    with connection.cursor() as cur, cur.copy(
            "COPY recsys_item (item_id, title, category, url, image_url, price, attributes, available, "
            "created_at, updated_at) FROM STDIN") as copy:
        for j in range(shop.n_items):
            attrs = {"brand": f"brand-{shop.brand[j]}", "color": COLORS[shop.color[j]], "bench": shop.mark}
            copy.write_row((item_id(j), f"Bench item {j}", f"cat-{shop.category[j]}", f"https://shop.test/i/{j}",
                            f"https://img.shop.test/{j}.jpg", f"{shop.price[j]:.2f}", json.dumps(attrs),
                            bool(shop.available[j]), created, created))
    with connection.cursor() as cur, cur.copy(
            "COPY recsys_shopper (user_id, personalization_consent, created_at, updated_at) FROM STDIN") as copy:
        for u in range(shop.n_users):
            copy.write_row((user_id(u), True, created, created))
    with connection.cursor() as cur:
        cur.execute("SELECT min(id) FROM recsys_shopper")
        shopper0 = cur.fetchone()[0]
        cur.execute("SELECT min(id) FROM recsys_item")
        item0 = cur.fetchone()[0]
    now = np.datetime64(int(time.time()), "s")
    stamps = np.datetime_as_string(now - shop.ev_age.astype("timedelta64[s]"), timezone="UTC")
    types = np.array(EVENT_TYPES)[shop.ev_type]
    s_pk, i_pk = (shop.ev_user + shopper0).tolist(), (shop.ev_item + item0).tolist()
    loaded_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with connection.cursor() as cur, cur.copy(
            "COPY recsys_event (event_id, shopper_id, item_id, type, value, timestamp, recommendation_id, "
            "created_at) FROM STDIN") as copy:
        for k in range(len(s_pk)):
            copy.write_row((f"be-{k}", s_pk[k], i_pk[k], types[k], 1.0, stamps[k], "", loaded_at))
    with connection.cursor() as cur:
        cur.execute("ANALYZE recsys_event; ANALYZE recsys_shopper; ANALYZE recsys_item")
    log(f"data: {shop.n_users:,} shoppers, {shop.n_items:,} items, {len(s_pk):,} events loaded with COPY in "
        f"{time.perf_counter() - started:.0f} s")


def confidence_matrix(shop: Shop):
    """Shoppers x items, each event weighted by its type and age (the CURIO_WEIGHT_* and half-life defaults)."""
    import numpy as np
    import scipy.sparse as sp

    w = np.array(TYPE_WEIGHT, dtype=np.float64)[shop.ev_type] * np.power(0.5, shop.ev_age / 86400 / HALF_LIFE_DAYS)
    return sp.csr_matrix((w.astype(np.float32), (shop.ev_user, shop.ev_item)), shape=(shop.n_users, shop.n_items),
                         dtype=np.float32)


def _top_k_rows(sim, k: int):
    """Top-k entries of every row, no self-similarity, as float32 CSR."""
    import numpy as np
    import scipy.sparse as sp

    sim = sp.csr_matrix(sim, dtype=np.float32, copy=True)
    sim.setdiag(0)
    sim.eliminate_zeros()
    rows, cols, vals = [], [], []
    for r in range(sim.shape[0]):
        lo, hi = sim.indptr[r], sim.indptr[r + 1]
        if hi == lo:
            continue
        data, idx = sim.data[lo:hi], sim.indices[lo:hi]
        keep = np.argpartition(-data, k)[:k] if hi - lo > k else np.arange(hi - lo)
        rows.append(np.full(len(keep), r))
        cols.append(idx[keep])
        vals.append(data[keep])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=sim.shape,
                         dtype=np.float32)


def train_and_activate(shop: Shop, kind: str, model_dir: Path) -> int:
    import numpy as np
    import scipy.sparse as sp

    from recsys.ml import artifacts
    from recsys.models import ModelVersion

    artifact_kind = "als" if kind == "als" else "itemknn"
    mark = f"{shop.mark}:{kind}"
    version = None
    for mv in ModelVersion.objects.filter(kind=artifact_kind, params__bench=mark).order_by("-pk"):
        try:
            art = artifacts.load(artifacts.version_dir(model_dir, mv.pk))
        except artifacts.ArtifactError:
            continue
        if len(art.item_ids) == shop.n_items and len(art.user_ids) == shop.n_users:
            version = mv.pk
            log(f"model: reusing {kind} v{version} from {art.path}")
            break
    if version is None:
        m = confidence_matrix(shop)
        user_ids = np.array([user_id(u) for u in range(shop.n_users)])
        item_ids = np.array([item_id(j) for j in range(shop.n_items)])
        t = time.perf_counter()
        if kind == "als":
            import implicit

            als = implicit.cpu.als.AlternatingLeastSquares(
                factors=FACTORS, regularization=ALS_PARAMS["regularization"], alpha=ALS_PARAMS["alpha"],
                iterations=ALS_PARAMS["iterations"], random_state=0, num_threads=2)
            als.fit(m, show_progress=False)
            ids, scores = als.similar_items(np.arange(shop.n_items), N=SIM_K + 1)
            keep = ids != np.arange(shop.n_items)[:, None]
            sim = sp.csr_matrix((scores[keep], (np.repeat(np.arange(shop.n_items), keep.sum(axis=1)), ids[keep])),
                                shape=(shop.n_items, shop.n_items), dtype=np.float32)
            mv = ModelVersion.objects.create(kind="als", params={**ALS_PARAMS, "bench": mark})
            art = artifacts.Artifact(kind="als", version=mv.pk, user_ids=user_ids, item_ids=item_ids, similarity=sim,
                                     user_factors=als.user_factors, item_factors=als.item_factors,
                                     params=dict(ALS_PARAMS))
        else:
            from implicit import nearest_neighbours

            bm25 = nearest_neighbours.BM25Recommender(K=BM25_PARAMS["K"], K1=BM25_PARAMS["K1"], B=BM25_PARAMS["B"],
                                                      num_threads=2)
            with warnings.catch_warnings():  # implicit hands its own fit a COO matrix after BM25 weighting
                warnings.filterwarnings("ignore", message="Method expects CSR input")
                bm25.fit(m, show_progress=False)
            sim = _top_k_rows(bm25.similarity, SIM_K)
            mv = ModelVersion.objects.create(kind="itemknn", params={**BM25_PARAMS, "bench": mark})
            art = artifacts.Artifact(kind="itemknn", version=mv.pk, user_ids=user_ids, item_ids=item_ids,
                                     similarity=sim, params=dict(BM25_PARAMS))
        artifacts.save(art, model_dir)
        version = mv.pk
        log(f"model: {kind} on {m.shape[0]:,} x {m.shape[1]:,} ({m.nnz:,} pairs) fitted and saved in "
            f"{time.perf_counter() - t:.0f} s -> v{version}")
    _store_and_activate(model_dir, version)
    return version


def _store_and_activate(model_dir, version: int) -> None:
    """Store the version (the local store: MODEL_DIR) and activate it, as a training run does. A checkout from
    before the artifact store (`--app-dir`, e.g. issue #26's "before") serves straight from MODEL_DIR."""
    from django.test import override_settings

    from recsys.ml import artifacts
    from recsys.models import ModelVersion
    from recsys.training.versions import model_version_activate

    try:
        from recsys.training import stored_versions
    except ImportError:
        stored_versions = None
    with override_settings(MODEL_DIR=model_dir):
        mv = ModelVersion.objects.get(pk=version)
        if not mv.artifact_path:
            if stored_versions is None:
                mv.artifact_path = str(artifacts.version_dir(model_dir, version))
                mv.save(update_fields=["artifact_path"])
            else:
                stored_versions.version_store(mv, artifacts.version_dir(model_dir, version))
        model_version_activate(version_id=version)


# --- curation rules (kept from the previous bench_serving.py) ---------------------------------------------

def create_rules(shop: Shop, n: int) -> dict:
    """`n` rules of mixed types through curation.services, created disabled (the phases switch them)."""
    import random
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from curation import services

    delete_rules()
    rng = random.Random(5)
    now = timezone.now()
    head = [int(j) for j in shop.by_rank[: min(shop.n_items, 3000)]]  # the popular head: the rules meet the lists
    mix = (("block", 0.29), ("boost", 0.29), ("pin", 0.19), ("annotation", 0.19), ("diversity", 0.04))
    kinds = [kind for kind, share in mix for _ in range(round(n * share))][:n]
    kinds += ["boost"] * (n - len(kinds))
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
                data["item_id"] = item_id(rng.choice(head))
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


# --- clients, signatures and the request files --------------------------------------------------------

def signer():
    """recsys.clients.shopper_signatures.sign_shopper, or None where the served code has no signed shoppers."""
    try:
        from recsys.clients.shopper_signatures import sign_shopper
    except ImportError:
        return None
    return sign_shopper


def make_clients(run_tag: str, phases: list[str]) -> dict[str, tuple[str, str | None]]:
    """Per phase: (token, signing secret or None), a client of the phase's scope of its own."""
    from recsys.clients.models import ApiClient
    from recsys.clients.services import api_client_create

    out = {}
    for phase in phases:
        scope = PHASES[phase][2]
        if scope is None:
            out[phase] = ("-", None)
            continue
        client, token = api_client_create(name=f"{CLIENT_PREFIX}{run_tag}-{phase}"[:100], scope=scope)
        secret = getattr(ApiClient.objects.get(pk=client.pk), "signing_secret", None)
        out[phase] = (token, secret)
    return out


@dataclass
class Samples:
    known: list[str]
    unknown: list[str]
    items: list[str]
    baskets: list[list[str]]


def draw_samples(shop: Shop, seed: int) -> Samples:
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    known = rng.choice(shop.n_users, size=min(SAMPLE, shop.n_users), replace=False)
    seen = np.bincount(shop.ev_item, minlength=shop.n_items) > 0
    pool = np.flatnonzero(seen & shop.available)  # items the model knows and the shop sells
    items = rng.choice(pool, size=SAMPLE)
    sizes = rng.integers(2, 4, SAMPLE)
    baskets = [[item_id(int(j)) for j in rng.choice(pool, size=int(s), replace=False)] for s in sizes]
    return Samples([user_id(int(u)) for u in known], [f"bench-new-{k}" for k in range(SAMPLE)],
                   [item_id(int(j)) for j in items], baskets)


def phase_requests(phase: str, s: Samples, secret: str | None, sign) -> list[tuple[str, str, str, str]]:
    """(method, path, signature, body) lines of a phase's request file."""
    q = f"limit={LIMIT}&placement={PLACEMENT}"

    def sig(user: str) -> str:
        return sign(secret, user, ttl_seconds=SIGNATURE_TTL) if (sign and secret and PHASES[phase][3]) else ""

    if phase == "healthz":
        return [("GET", "/healthz", "", "")]
    if phase == "floor":
        return [("GET", f"/bench/raw/{u}", "", "") for u in s.known]
    if phase in ("personal", "personal+rules", "personal-write"):
        return [("GET", f"/api/v1/users/{u}/recommendations/?{q}", sig(u), "") for u in s.known]
    if phase == "raw":
        return [("GET", f"/api/v1/users/{u}/recommendations/?{q}&raw=true", sig(u), "") for u in s.known]
    if phase == "unknown":
        return [("GET", f"/api/v1/users/{u}/recommendations/?{q}", sig(u), "") for u in s.unknown]
    if phase == "popular":
        return [("GET", f"/api/v1/popular/?{q}", "", "")]
    if phase == "similar":
        return [("GET", f"/api/v1/items/{i}/similar/?{q}", "", "") for i in s.items]
    if phase == "basket":
        return [("POST", "/api/v1/recommendations/basket/", "",
                 json.dumps({"item_ids": b, "limit": LIMIT, "placement": PLACEMENT})) for b in s.baskets]
    raise ValueError(phase)


# --- CPU and request accounting --------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> tuple[float, float]:
    """(busy seconds, total seconds) of all CPUs since boot (/proc/stat)."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + f[4]
    return (sum(f[:8]) - idle) / TICK, sum(f[:8]) / TICK


def wait_quiet(args, why: str) -> float:
    """Wait (at most --quiet-wait s) until the machine is at most --quiet-busy % busy over 2 s: other jobs on a
    shared machine take the CPU a phase measures. Answers the last busy % seen."""
    deadline = time.time() + args.quiet_wait
    waited = False
    while True:
        b0, t0 = machine_busy()
        time.sleep(2.0)
        b1, t1 = machine_busy()
        busy = 100 * (b1 - b0) / max(1e-9, t1 - t0)
        if busy <= args.quiet_busy or args.quiet_wait <= 0:
            if waited:
                log(f"quiet: {busy:.0f}% busy, going on ({why})")
            return busy
        if time.time() > deadline:
            log(f"quiet: still {busy:.0f}% busy after {args.quiet_wait} s, going on anyway ({why})")
            return busy
        if not waited:
            log(f"quiet: the machine is {busy:.0f}% busy (other jobs); waiting up to {args.quiet_wait} s ({why})")
            waited = True


def postgres_pids(dbname: str) -> list[int]:
    """This database's backends and the server's own processes (no backend of another database)."""
    import psutil

    out = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if p.info["name"] != "postgres":
                continue
            title = " ".join(p.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        m = re.match(r"postgres: (?:\S+: )?(\S+) (\S+) ", title + " ")
        if m and m.group(2) != dbname and ("(" in title or "idle" in title or "[local]" in title):
            continue  # a backend of another database
        out.append(p.pid)
    return out


def process_tree(pid: int) -> list[int]:
    import psutil

    try:
        p = psutil.Process(pid)
        return [pid] + [c.pid for c in p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def read_counts(count_dir: Path) -> dict[int, int]:
    out = {}
    for f in count_dir.iterdir():
        if f.name.isdigit():
            data = f.read_bytes()
            if len(data) == 8:
                out[int(f.name)] = int.from_bytes(data, sys.byteorder)
    return out


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    count_dir: Path
    deployment: str
    workers: list[int] = field(default_factory=list)


class Accounting:
    """CPU and requests of a phase: a snapshot before it, a sampler during it (every 0.5 s, so a process that exits
    mid-phase, e.g. a PostgreSQL backend recycled after CONN_MAX_AGE, keeps the CPU it had last been seen with),
    and the deltas after it."""

    def __init__(self, server: Server, dbname: str, redis_pid: int | None, celery: subprocess.Popen | None):
        self.server, self.dbname, self.redis_pid, self.celery = server, dbname, redis_pid, celery
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, dict[int, float]] = {}

    def _cpu(self) -> dict[str, dict[int, float]]:
        import psutil

        try:
            workers = [c.pid for c in psutil.Process(self.server.proc.pid).children()]
        except psutil.NoSuchProcess:
            workers = []
        groups = {"workers": workers, "postgres": postgres_pids(self.dbname),
                  "redis": [self.redis_pid] if self.redis_pid else [],
                  "celery": process_tree(self.celery.pid) if self.celery else []}
        out: dict[str, dict[int, float]] = {}
        for g, pids in groups.items():
            out[g] = {}
            for pid in pids:
                v = cpu_seconds(pid)
                if v is not None:
                    out[g][pid] = v
        return out

    def _record(self, cpu: dict[str, dict[int, float]]) -> None:
        for g, pids in cpu.items():
            self._seen.setdefault(g, {}).update(pids)

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self._record(self._cpu())

    def begin(self) -> dict:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = {"cpu": self._cpu(), "counts": read_counts(self.server.count_dir), "machine": machine_busy(),
                  "children": ru.ru_utime + ru.ru_stime, "t": time.perf_counter()}
        self._seen = {}
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return before

    def end(self, before: dict, requests: int) -> dict:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._record(self._cpu())
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        after = {"cpu": self._seen, "counts": read_counts(self.server.count_dir), "machine": machine_busy(),
                 "children": ru.ru_utime + ru.ru_stime, "t": time.perf_counter()}
        out: dict = {}
        for g in before["cpu"]:
            b, a = before["cpu"][g], after["cpu"].get(g, {})
            # a process first seen during the phase started during it: all of its CPU counts
            out[f"{g}_cpu_s"] = sum(v - b.get(pid, 0.0) for pid, v in a.items())
        out["wrk_cpu_s"] = after["children"] - before["children"]
        busy = after["machine"][0] - before["machine"][0]
        out["machine_busy_s"] = busy
        out["wall_s"] = after["t"] - before["t"]
        out["machine_busy_pct"] = 100 * busy / max(1e-9, (after["machine"][1] - before["machine"][1]))
        out["other_cpu_s"] = busy - sum(out[f"{g}_cpu_s"] for g in before["cpu"]) - out["wrk_cpu_s"]
        for k in list(out):
            if k.endswith("_cpu_s"):
                out[k.replace("_cpu_s", "_ms_per_req")] = out[k] / max(1, requests) * 1000
        served = {pid: after["counts"].get(pid, 0) - before["counts"].get(pid, 0) for pid in after["counts"]}
        wcpu = {pid: v - before["cpu"]["workers"].get(pid, 0.0) for pid, v in after["cpu"].get("workers", {}).items()}
        workers = sorted(set(served) | set(wcpu))
        total, total_cpu = max(1, sum(served.values())), max(1e-9, sum(wcpu.values()))
        out["workers"] = [{"pid": p, "requests": served.get(p, 0), "share": served.get(p, 0) / total,
                           "cpu_s": wcpu.get(p, 0.0), "cpu_share": wcpu.get(p, 0.0) / total_cpu} for p in workers]
        out["served_total"] = sum(served.values())
        return out


# --- wrk --------------------------------------------------------------------------------------------------

def run_wrk(port: int, req_file: Path, token: str, seconds: int, args, seed: int, out_file: Path | None,
            close: bool = False) -> dict:
    cmd = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{seconds}s", "--timeout", "10s",
           "-s", str(LUA), f"http://127.0.0.1:{port}", "--", str(req_file), token, str(seed)] + (["close"] * close)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if out_file is not None:
        out_file.write_text(proc.stdout + proc.stderr)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()[-500:]} {proc.stdout[-500:]}")
    r = json.loads(line[len("WRK_JSON "):])
    dur = r["duration_us"] / 1e6
    e = r["errors"]
    return {"requests": r["requests"], "duration_s": dur, "rps": r["requests"] / dur,
            "p50": r["percentiles_us"]["50"] / 1000, "p90": r["percentiles_us"]["90"] / 1000,
            "p99": r["percentiles_us"]["99"] / 1000, "p999": r["percentiles_us"]["99.9"] / 1000,
            "max": r["max_us"] / 1000, "mean": r["mean_us"] / 1000, "non2xx": e["status"],
            "socket_errors": e["connect"] + e["read"] + e["write"] + e["timeout"], "timeouts": e["timeout"]}


# --- the server -------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(args, model_dir: Path, extra: dict) -> dict:
    env = {k: v for k, v in START_ENV.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update(DEBUG="0", SECRET_KEY=os.environ["SECRET_KEY"], DATABASE_URL=args.database_url,
               REDIS_URL=args.redis_url, MODEL_DIR=str(model_dir), OPENBLAS_NUM_THREADS="1",
               ALLOWED_HOSTS="127.0.0.1,localhost", PYTHONPATH=str(args.app_dir))
    env.update(extra)
    for kv in args.env:
        k, _, v = kv.partition("=")
        env[k] = v
    return env


def start_server(args, deployment: str, model_dir: Path, out_dir: Path, tag: str) -> Server:
    port = free_port()
    count_dir = out_dir / f"counts-{tag}"
    count_dir.mkdir(parents=True)
    metrics_dir = out_dir / f"metrics-{tag}"
    env = server_env(args, model_dir, {"CURIO_BENCH_COUNT_DIR": str(count_dir),
                                       "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    cmd = [str(VENV_BIN / "gunicorn"), "-c", str(args.app_dir / "config" / "gunicorn.conf.py"),
           "serving_floor:application", "--chdir", str(args.app_dir), "--pythonpath", str(BENCH),
           "--bind", f"127.0.0.1:{port}", *GUNICORN_BASE, *DEPLOYMENTS[deployment][1], *args.gunicorn_args]
    logf = open(out_dir / f"gunicorn-{tag}.log", "w")
    log(f"server: gunicorn {' '.join(cmd[1:])}")
    proc = PROCS.start("gunicorn", cmd, cwd=args.app_dir, env=env, stdout=logf, stderr=subprocess.STDOUT)
    server = Server(proc, port, count_dir, deployment)
    import psutil

    n_workers = int(_gunicorn_opt(cmd, "--workers", "3"))
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}); see {logf.name}:\n"
                               + Path(logf.name).read_text()[-3000:])
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            if len(psutil.Process(proc.pid).children()) >= n_workers:
                break
        except OSError:
            pass
        time.sleep(0.3)
    else:
        raise RuntimeError(f"gunicorn did not answer in 120 s; see {logf.name}")
    time.sleep(1.0)
    server.workers = sorted(c.pid for c in psutil.Process(proc.pid).children())
    log(f"server: up on 127.0.0.1:{port}, master {proc.pid}, workers {server.workers}")
    return server


def _gunicorn_opt(cmd: list[str], name: str, default: str) -> str:
    value = default
    for i, a in enumerate(cmd[:-1]):
        if a == name:
            value = cmd[i + 1]
    return value


def start_celery(args, model_dir: Path, out_dir: Path) -> subprocess.Popen:
    env = server_env(args, model_dir, {"PROMETHEUS_MULTIPROC_DIR": str(out_dir / "metrics-celery")})
    (out_dir / "metrics-celery").mkdir(exist_ok=True)
    cmd = [str(VENV_BIN / "celery"), "-A", "config", "worker", "-Q", "celery,training", "--concurrency", "2",
           "--loglevel", "WARNING"]
    logf = open(out_dir / "celery.log", "w")
    proc = PROCS.start("celery", cmd, cwd=args.app_dir, env=env, stdout=logf, stderr=subprocess.STDOUT)
    log(f"celery: worker pid {proc.pid} (-Q celery,training --concurrency 2): writes the impressions lists push")
    return proc


def http(port: int, method: str, path: str, token: str, sig: str = "", body: str = "") -> tuple[int, dict]:
    headers = {"Authorization": f"Token {token}"} if token != "-" else {}
    if sig:
        headers["Curio-Shopper-Signature"] = sig
    if body:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode() or None, headers=headers,
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {"detail": e.read()[:300].decode(errors="replace")}


def sanity(server: Server, files: dict, phases: list[str]) -> list[str]:
    """One request of each phase, checked: 200, a full list, personal lists from the model."""
    notes = []
    for phase in phases:
        method, path, sig, body = files[phase]["first"]
        status, data = http(server.port, method, path, files[phase]["token"], sig, body)
        if status != 200:
            raise RuntimeError(f"{phase}: {method} {path} answered {status}: {data}")
        if phase in ("healthz", "floor"):
            continue
        items = data.get("items") or []
        sources = Counter(i.get("source") for i in items)
        note = (f"{phase}: {len(items)} items, model_version {data.get('model_version')}, "
                f"sources {dict(sources)}")
        if phase in ("personal", "personal-write", "raw", "personal+rules") and data.get("model_version") is None:
            note += "  <-- NOT personal (model_version null: signature refused or model not loaded)"
        notes.append(note)
    return notes


def warm_up(server: Server, files: dict, phase: str, args, seconds: int, out_dir: Path, min_each: int = 30) -> None:
    """Until every worker has served `min_each` requests of the phase, at most 5 tries. Each request on a new
    connection (Connection: close): kept-alive connections can leave a worker idle run after run."""
    for attempt in range(5):
        before = read_counts(server.count_dir)
        run_wrk(server.port, files[phase]["path"], files[phase]["token"], seconds, args, seed=900 + attempt,
                out_file=None, close=True)
        after = read_counts(server.count_dir)
        served = [after.get(p, 0) - before.get(p, 0) for p in server.workers]
        if min(served) >= min_each:
            return
    log(f"warm-up {phase}: a worker served fewer than {min_each} requests in 5 tries ({served})")


def memory_line(server: Server, model_dir: Path, version: int) -> str:
    model_path = str(model_dir / str(version))
    rss = pss = mpss = 0
    for pid in server.workers:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
                k, v = line.split(":", 1)
                if k == "Rss":
                    rss += int(v.split()[0]) * 1024
                elif k == "Pss":
                    pss += int(v.split()[0]) * 1024
            current = None
            for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
                parts = line.split()
                if not line.endswith("kB") and len(parts) >= 5 and "-" in parts[0]:
                    current = parts[5] if len(parts) > 5 else ""
                elif current and current.startswith(model_path) and parts[0] == "Pss:":
                    mpss += int(parts[1]) * 1024
        except FileNotFoundError:
            continue
    return (f"memory: {len(server.workers)} workers RSS {rss / 2**20:.0f} MiB, PSS {pss / 2**20:.0f} MiB "
            f"(model files mapped: PSS {mpss / 2**20:.1f} MiB)")


# --- the profile ------------------------------------------------------------------------------------------

def profile(server: Server, files: dict, phase: str, args, out_dir: Path, tag: str) -> dict:
    seconds = args.seconds
    outs = []
    spies = []
    for pid in server.workers:
        f = out_dir / f"pyspy-{tag}-{pid}.txt"
        cmd = [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds + 2), "--rate",
               str(args.profile_rate), "--format", "raw", "--output", str(f), "--nonblocking"]
        if args.profile_idle:
            cmd.append("--idle")
        if args.profile_gil:
            cmd.append("--gil")
        spies.append(PROCS.start("py-spy", cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        outs.append(f)
    time.sleep(1.0)
    result = run_wrk(server.port, files[phase]["path"], files[phase]["token"], seconds, args, seed=777,
                     out_file=out_dir / f"wrk-{tag}-profile.txt")
    for spy in spies:
        try:
            spy.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            pass
        PROCS.stop(spy)
    stacks: Counter = Counter()
    per_worker = {}
    for f in outs:
        n = 0
        if f.exists():
            for line in f.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if stack and count.isdigit():
                    stacks[stack] += int(count)
                    n += int(count)
        per_worker[f.name] = n
    return {"wrk": result, "stacks": stacks, "per_worker": per_worker, "files": [str(f) for f in outs], "phase": phase}


def _frame(frame: str) -> str:
    """'func (path/file.py:123)' -> 'func (path/file.py)'."""
    return re.sub(r":\d+\)$", ")", frame.strip())


def top_functions(stacks: Counter, n: int = 25) -> tuple[int, list, list]:
    total = sum(stacks.values())
    own: Counter = Counter()
    incl: Counter = Counter()
    for stack, count in stacks.items():
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    by_self = [(f, c / total * 100, incl[f] / total * 100) for f, c in own.most_common(n)]
    by_total = [(f, own[f] / total * 100, c / total * 100) for f, c in incl.most_common(n + 15)]
    return total, by_self, by_total


def print_profile(prof: dict, n: int) -> list[str]:
    total, by_self, by_total = top_functions(prof["stacks"], n)
    w = prof["wrk"]
    lines = [f"profile: py-spy on every worker during one more {prof['phase']} phase: {total:,} samples "
             f"({', '.join(f'{v:,}' for v in prof['per_worker'].values())} per worker); that phase under "
             f"py-spy: {w['rps']:.0f} rps, p50 {w['p50']:.2f} ms, p99 {w['p99']:.2f} ms",
             "", f"top {n} functions by own samples (self %, total %):", ""]
    lines += [f"  {s:5.1f}  {t:5.1f}  {f}" for f, s, t in by_self]
    lines += ["", f"top {n + 15} functions by total samples (self %, total %):", ""]
    lines += [f"  {s:5.1f}  {t:5.1f}  {f}" for f, s, t in by_total]
    return lines


# --- tables -----------------------------------------------------------------------------------------------

def label(phase: str, args) -> str:
    rules = args.rules if hasattr(args, "rules") else int(args)
    return PHASES[phase][0].replace(" N ", f" {rules:,} ") if phase == "personal+rules" else PHASES[phase][0]


def shares_text(r: dict, key: str = "share") -> str:
    return "/".join(f"{w[key] * 100:.0f}" for w in r["workers"])


def main_table(results: dict, args, title: str) -> list[str]:
    h = results.get("healthz", {}).get("rps")
    fl = results.get("floor", {}).get("rps")
    lines = [title, "",
             "| list | rps | p50 ms | p99 ms | max ms | x /healthz | x floor | worker CPU ms/req | PostgreSQL "
             "ms/req | Redis ms/req | others ms/req | requests per worker % |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for phase, r in results.items():
        xh = f"{r['rps'] / h:.2f}x" if h else "-"
        xf = f"{r['rps'] / fl:.2f}x" if fl else "-"
        lines.append(f"| {label(phase, args)} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.0f} | "
                     f"{xh} | {xf} | {r['workers_ms_per_req']:.2f} | {r['postgres_ms_per_req']:.3f} | "
                     f"{r['redis_ms_per_req']:.3f} | {r['other_ms_per_req']:.2f} | {shares_text(r)} |")
    return lines


def detail_table(results: dict, args) -> list[str]:
    lines = ["| list | requests | non-2xx | socket errors | p90 ms | p99.9 ms | worker CPU share % | Celery ms/req | "
             "wrk ms/req | others ms/req | machine busy % | busy before % |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for phase, r in results.items():
        lines.append(f"| {label(phase, args)} | {r['requests']:,} | {r['non2xx']} | {r['socket_errors']} | "
                     f"{r['p90']:.2f} | {r['p999']:.2f} | {shares_text(r, 'cpu_share')} | "
                     f"{r['celery_ms_per_req']:.3f} | {r['wrk_ms_per_req']:.3f} | {r['other_ms_per_req']:.3f} | "
                     f"{r['machine_busy_pct']:.0f} | {r.get('busy_before_pct', 0):.0f} |")
    return lines


MEDIAN_KEYS = ("rps", "p50", "p90", "p99", "p999", "max", "workers_ms_per_req", "postgres_ms_per_req",
               "redis_ms_per_req", "celery_ms_per_req", "wrk_ms_per_req", "other_ms_per_req", "machine_busy_pct")


def medians(runs: list[dict]) -> dict:
    out = {}
    for phase in runs[0]:
        rs = [r[phase] for r in runs if phase in r]
        m = {k: statistics.median(r[k] for r in rs) for k in MEDIAN_KEYS}
        m["requests"] = sum(r["requests"] for r in rs)
        m["non2xx"] = sum(r["non2xx"] for r in rs)
        m["socket_errors"] = sum(r["socket_errors"] for r in rs)
        m["shares"] = ", ".join(shares_text(r) for r in rs)
        m["workers"] = rs[-1]["workers"]
        out[phase] = m
    # the ratios of the medians table: the median of each run's ratio
    for key, base in (("x_healthz", "healthz"), ("x_floor", "floor")):
        for phase in out:
            vals = [r[phase]["rps"] / r[base]["rps"] for r in runs if base in r and phase in r]
            if vals:
                out[phase][key] = statistics.median(vals)
    return out


def median_table(runs: list[dict], args, title: str) -> list[str]:
    m = medians(runs)
    lines = [title, "",
             "| list | rps | p50 ms | p99 ms | max ms | x /healthz | x floor | worker CPU ms/req | PostgreSQL "
             "ms/req | Redis ms/req | others ms/req | requests per worker % (each run) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for phase, r in m.items():
        xh = f"{r['x_healthz']:.2f}x" if "x_healthz" in r else "-"
        xf = f"{r['x_floor']:.2f}x" if "x_floor" in r else "-"
        lines.append(f"| {label(phase, args)} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.0f} | "
                     f"{xh} | {xf} | {r['workers_ms_per_req']:.2f} | {r['postgres_ms_per_req']:.3f} | "
                     f"{r['redis_ms_per_req']:.3f} | {r['other_ms_per_req']:.2f} | {r['shares']} |")
    return lines


# --- main -------------------------------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=20, help="length of each measured phase (default 20)")
    p.add_argument("--runs", type=int, default=1, help="runs, each on a freshly started server; >1 prints medians")
    p.add_argument("--kind", choices=("als", "bm25"), default="als",
                   help="model: ALS 64 factors (default) or BM25 item-item (top-50 neighbours)")
    p.add_argument("--rules", type=int, default=0, metavar="N",
                   help="also run the personal phase with N mixed curation rules on (e.g. 1000)")
    p.add_argument("--rules-rounds", type=int, default=1, metavar="R",
                   help="alternate personal with 0 and N rules R times (medians and paired differences)")
    p.add_argument("--phases", default=",".join(DEFAULT_PHASES),
                   help=f"comma-separated, in this order: {','.join(DEFAULT_PHASES)} (healthz and floor give "
                        "the ratios; personal+rules needs --rules)")
    p.add_argument("--deployment", default="documented",
                   help="comma-separated gunicorn set-ups, or 'all': " + "; ".join(
                       f"{k}: {v[0]}" for k, v in DEPLOYMENTS.items()))
    p.add_argument("--gunicorn-args", default="", help="extra gunicorn arguments for every deployment (one string)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment of the server and Celery (repeatable), e.g. API_THROTTLE_RATE=")
    p.add_argument("--profile", action="store_true",
                   help="py-spy every worker during one more phase of --profile-phase (last run) and print the top "
                        "functions")
    p.add_argument("--profile-phase", default="personal", choices=[x for x in PHASES if x != "personal+rules"],
                   help="the list py-spy records (default personal)")
    p.add_argument("--profile-idle", action="store_true", help="py-spy --idle: also the samples of waiting threads")
    p.add_argument("--profile-gil", action="store_true",
                   help="py-spy --gil: only the thread holding the GIL (Python's own CPU; C code that releases the GIL "
                        "and waits are left out)")
    p.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second and worker")
    p.add_argument("--profile-top", type=int, default=25, help="functions listed")
    p.add_argument("--app-dir", type=Path, default=ROOT,
                   help="checkout to serve (gunicorn cwd and PYTHONPATH, its config/gunicorn.conf.py, migrations and "
                        "code); default: this one")
    p.add_argument("--database-url", default="",
                   help="the bench's own PostgreSQL database (created when missing); default "
                        "postgres://postgres@127.0.0.1:5432/curio_bench_serving, or ..._<checkout name> with "
                        "--app-dir")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/7",
                   help="the bench's own Redis database (flushed at start; default redis://127.0.0.1:6379/7)")
    p.add_argument("--no-celery", action="store_true", help="no Celery worker (pushed impressions pile up in Redis)")
    p.add_argument("--quiet-wait", type=int, default=120, metavar="S",
                   help="before each phase wait up to S s for the machine to be quiet (0: never wait; default 120)")
    p.add_argument("--quiet-busy", type=float, default=20.0, metavar="PCT",
                   help="quiet means at most PCT %% of all CPUs busy over 2 s (default 20)")
    p.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    p.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--warmup", type=int, default=2, help="seconds of each warm-up try before a phase (default 2)")
    p.add_argument("--shoppers", type=int, default=50_000)
    p.add_argument("--items", type=int, default=20_000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=26)
    p.add_argument("--reload", action="store_true", help="load the shop again even when its mark is there")
    p.add_argument("--out", type=Path, default=None, help="output folder (default var/bench-serving/runs/<time>)")
    p.add_argument("--report", type=Path, nargs="+", metavar="RESULTS_JSON",
                   help="print the summary of saved results.json files (runs pooled per deployment), run nothing")
    args = p.parse_args()
    if args.report:
        return args
    args.app_dir = args.app_dir.resolve()
    if not (args.app_dir / "config" / "gunicorn.conf.py").exists():
        p.error(f"{args.app_dir} is not a Curio checkout (no config/gunicorn.conf.py)")
    if not args.database_url:
        name = "curio_bench_serving" if args.app_dir == ROOT else "curio_bench_serving_" + re.sub(
            r"\W", "_", args.app_dir.name.lower())
        args.database_url = f"postgres://postgres@127.0.0.1:5432/{name}"
    args.phases = [x for x in args.phases.split(",") if x]
    unknown = [x for x in args.phases if x not in PHASES]
    if unknown:
        p.error(f"unknown phases {unknown}; choose from {list(PHASES)}")
    if not args.rules:
        args.phases = [x for x in args.phases if x != "personal+rules"]
    elif "personal+rules" not in args.phases:
        args.phases.insert(args.phases.index("personal") + 1 if "personal" in args.phases else 0, "personal+rules")
    args.deployment = list(DEPLOYMENTS) if args.deployment == "all" else args.deployment.split(",")
    for d in args.deployment:
        if d not in DEPLOYMENTS:
            p.error(f"unknown deployment {d!r}; choose from {list(DEPLOYMENTS)} or all")
    args.gunicorn_args = args.gunicorn_args.split()
    if not Path("/usr/bin/wrk").exists() and subprocess.run(["which", "wrk"], capture_output=True).returncode:
        p.error("wrk is not installed (apt-get install wrk)")
    return args


def ensure_database(url: str) -> str:
    import psycopg
    from psycopg import sql

    dbname = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            log(f"database {dbname} created")
    return dbname


def setup_django(args, model_dir: Path) -> None:
    # The served checkout's code, nothing else: Celery's Django fixup puts the working directory first on sys.path.
    os.chdir(args.app_dir)
    sys.path.insert(0, str(args.app_dir))
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="0", DATABASE_URL=args.database_url,
                      REDIS_URL=args.redis_url, MODEL_DIR=str(model_dir), OPENBLAS_NUM_THREADS="1",
                      ALLOWED_HOSTS="127.0.0.1,localhost")
    os.environ.setdefault("SECRET_KEY", "bench-serving-" + "x" * 40)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    import config
    import recsys

    for module in (config, recsys):
        if not Path(module.__file__).resolve().is_relative_to(args.app_dir):
            sys.exit(f"imported {module.__name__} from {module.__file__}, not from {args.app_dir}")


def truncate_impressions() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE '%%impression%%'")
        tables = [r[0] for r in cur.fetchall()]
        if tables:
            cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables))


def machine_text() -> list[str]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    keep = ("Model name", "CPU(s):", "Thread(s) per core", "L2 cache", "L3 cache", "Hypervisor vendor")
    lines = [" ".join(x.split()) for x in lscpu.splitlines() if x.startswith(keep)]
    mem = next((x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")), "")
    lines.append(" ".join(mem.split()))
    return lines


def run_once(args, deployment: str, run: int, ctx: dict) -> dict:
    """One run of the phases on a freshly started server of `deployment`."""
    out_dir: Path = ctx["out_dir"]
    tag = f"{deployment}-run{run + 1}"
    log(f"=== {tag}: {DEPLOYMENTS[deployment][0]}")
    truncate_impressions()
    with_files = args.phases + ([args.profile_phase] if args.profile and args.profile_phase not in args.phases else [])
    clients = make_clients(f"{ctx['stamp']}-{tag}", with_files)
    files = {}
    for phase in with_files:
        token, secret = clients[phase]
        lines = phase_requests(phase, ctx["samples"], secret, ctx["sign"])
        path = out_dir / "requests" / f"{tag}-{phase}.tsv"
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join("\t".join(x) + "\n" for x in lines))
        files[phase] = {"path": path, "token": token, "first": lines[0]}
    server = start_server(args, deployment, ctx["model_dir"], out_dir, tag)
    results: dict = {}
    rounds: list[tuple[dict, dict]] = []
    try:
        acct = Accounting(server, ctx["dbname"], ctx["redis_pid"], ctx["celery"])
        warm_up(server, files, args.phases[0] if "personal" not in args.phases else "personal", args, 5,
                out_dir, min_each=50)
        notes = sanity(server, files, [p for p in args.phases if p != "personal+rules"])
        for note in notes:
            log(f"check: {note}")
        sequence = []
        for phase in args.phases:
            if phase == "personal" and args.rules and args.rules_rounds > 1:
                sequence += ["personal", "personal+rules"] * args.rules_rounds
            elif phase == "personal+rules" and args.rules and args.rules_rounds > 1:
                continue
            else:
                sequence.append(phase)
        rules_on = False
        per_phase: dict[str, list[dict]] = {}
        for i, phase in enumerate(sequence):
            want = phase == "personal+rules"
            if want != rules_on:
                set_rules_enabled(want)
                rules_on = want
                if want:
                    notes += sanity(server, files, ["personal+rules"])
                    log(f"check: {notes[-1]}")
            quiet = wait_quiet(args, f"{tag} {phase}")
            warm_up(server, files, phase, args, args.warmup, out_dir)
            before = acct.begin()
            r = run_wrk(server.port, files[phase]["path"], files[phase]["token"], args.seconds, args,
                        seed=1000 * (run + 1) + i, out_file=out_dir / f"wrk-{tag}-{i:02d}-{phase}.txt")
            r.update(acct.end(before, r["requests"]))
            r["busy_before_pct"] = quiet
            per_phase.setdefault(phase, []).append(r)
            log(f"{label(phase, args):24s} {r['rps']:8,.0f} rps  p50 {r['p50']:6.2f}  p99 {r['p99']:7.2f}  "
                f"max {r['max']:7.1f} ms  worker {r['workers_ms_per_req']:.2f} ms/req  PG "
                f"{r['postgres_ms_per_req']:.3f}  Redis {r['redis_ms_per_req']:.3f}  non-2xx {r['non2xx']}  "
                f"per worker {shares_text(r)}%  busy {r['machine_busy_pct']:.0f}%  others "
                f"{r['other_ms_per_req']:.2f} ms/req")
        if rules_on:
            set_rules_enabled(False)
        for phase, rs in per_phase.items():
            if len(rs) == 1:
                results[phase] = rs[0]
            else:  # alternating rounds: the median round of each side
                results[phase] = sorted(rs, key=lambda x: x["p50"])[len(rs) // 2]
        if args.rules and args.rules_rounds > 1:
            rounds = list(zip(per_phase["personal"], per_phase["personal+rules"], strict=True))
        mem = memory_line(server, ctx["model_dir"], ctx["version"])
        log(mem)
        restarted = sorted(set(read_counts(server.count_dir)) - set(server.workers))
        if restarted:
            log(f"WARNING: workers were replaced during the run: {restarted}")
        prof = None
        if args.profile and run == args.runs - 1:
            log(f"profile: py-spy on workers {server.workers} during {args.seconds} s of {args.profile_phase}")
            warm_up(server, files, args.profile_phase, args, args.warmup, out_dir)
            prof = profile(server, files, args.profile_phase, args, out_dir, tag)
    finally:
        PROCS.stop(server.proc)
    out = [f"## {tag}", "", *main_table(results, args, f"{tag}: {DEPLOYMENTS[deployment][0]}"), "",
           *detail_table(results, args), "", mem, "", "checks (one request of each list before the load):",
           *[f"- {n}" for n in notes]]
    if rounds:
        diffs = [(b["p50"] - a["p50"], b["workers_ms_per_req"] - a["workers_ms_per_req"]) for a, b in rounds]
        out.append(f"rules rounds ({args.rules:,} minus 0 rules): p50 " + ", ".join(f"{d:+.2f}" for d, _ in diffs)
                   + " ms; worker CPU " + ", ".join(f"{c:+.2f}" for _, c in diffs) + " ms/req; median p50 "
                   f"{statistics.median(d for d, _ in diffs):+.2f} ms")
    if prof:
        out += ["", *print_profile(prof, args.profile_top)]
    print("\n" + "\n".join(out) + "\n", flush=True)
    ctx["report"] += out + [""]
    if prof:
        results["_profile"] = {"by_self": top_functions(prof["stacks"], args.profile_top)[1],
                               "by_total": top_functions(prof["stacks"], args.profile_top)[2],
                               "samples": sum(prof["stacks"].values()), "wrk": prof["wrk"]}
    return results


def main() -> None:
    args = parse_args()
    if args.report:
        report_only(args.report)
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # SIGINT too: a shell may start us ignoring it
        signal.signal(sig, _terminate)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = (args.out or ROOT / "var" / "bench-serving" / "runs" / stamp).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    dbname = ensure_database(args.database_url)
    model_dir = ROOT / "var" / "bench-serving" / "models" / dbname
    model_dir.mkdir(parents=True, exist_ok=True)
    log(f"app: {args.app_dir} ({_git_head(args.app_dir)}); database {dbname}; Redis {args.redis_url}; "
        f"models {model_dir}; output {out_dir}")
    setup_django(args, model_dir)
    import redis
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    rds = redis.Redis.from_url(args.redis_url)
    rds.flushdb()
    redis_pid = int(rds.info("server")["process_id"])
    t = time.perf_counter()
    shop = generate_shop(args.shoppers, args.items, args.events, args.seed)
    st = shop.stats
    log(f"shop: {args.shoppers:,} shoppers x {args.items:,} items x {st['events']:,} events (generated in "
        f"{time.perf_counter() - t:.1f} s): events per shopper median {st['median']:.0f}, p90 {st['p90']:.0f}, "
        f"p99 {st['p99']:.0f}, max {st['max']}, mean {st['mean']:.1f}; {st['items_with_events']:,} items with "
        f"events, the top item {st['top1_share'] * 100:.2f}% of events, the top 1% of items "
        f"{st['top1pct_items_share'] * 100:.0f}%; {st['unavailable']} items unavailable")
    ensure_data(shop, args.reload)
    version = train_and_activate(shop, args.kind, model_dir)
    from recsys.clients.models import ApiClient

    ApiClient.objects.filter(name__startswith=CLIENT_PREFIX).delete()
    sign = signer()
    if sign is None:
        log("signatures: recsys.clients.shopper_signatures is not in the served code: read-token lists are sent "
            "without Curio-Shopper-Signature (that code needs none)")
    else:
        log("signatures: read-token lists of a shopper carry a valid Curio-Shopper-Signature (sign_shopper with "
            "the client's signing_secret)")
    report: list[str] = []
    ctx = {"out_dir": out_dir, "stamp": stamp, "samples": draw_samples(shop, args.seed), "sign": sign,
           "model_dir": model_dir, "dbname": dbname, "redis_pid": redis_pid, "celery": None, "version": version,
           "report": report}
    load_before = os.getloadavg()
    all_runs: dict[str, list[dict]] = {}
    try:
        if args.rules:
            t = time.perf_counter()
            counts = create_rules(shop, args.rules)
            log(f"curation: {sum(counts.values()):,} rules ({', '.join(f'{v} {k}' for k, v in counts.items())}) "
                f"created disabled through curation.services in {time.perf_counter() - t:.1f} s, placement "
                f"{PLACEMENT!r}")
        if not args.no_celery:
            ctx["celery"] = start_celery(args, model_dir, out_dir)
        for run in range(args.runs):  # run-major: the machine's drift meets every deployment alike
            for deployment in args.deployment:
                all_runs.setdefault(deployment, []).append(run_once(args, deployment, run, ctx))
    finally:
        PROCS.stop_all()
        if args.rules:
            with contextlib.suppress(Exception):
                delete_rules()
    header = [f"app {args.app_dir} ({_git_head(args.app_dir)}), model {args.kind} v{version}, "
              f"{args.connections} connections / {args.wrk_threads} wrk threads, {args.seconds} s a phase, "
              f"{args.runs} run(s); load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}",
              *machine_text()]
    summary = summarize(all_runs, args.rules, header)
    print("\n".join(summary), flush=True)
    (out_dir / "report.md").write_text("\n".join(report + summary) + "\n")
    (out_dir / "results.json").write_text(json.dumps(
        {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
         "shop": shop.stats, "machine": machine_text(), "runs": all_runs}, indent=1, default=str))
    log(f"report: {out_dir / 'report.md'}; numbers: {out_dir / 'results.json'}")


def summarize(all_runs: dict[str, list[dict]], rules: int, header: list[str]) -> list[str]:
    """The medians table of each deployment (its one run's table for a single run), then deployments side by side."""
    summary = ["# Summary", "", *header, ""]
    for deployment, runs in all_runs.items():
        clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]
        what = DEPLOYMENTS.get(deployment, ("",))[0]
        if len(clean) > 1:
            summary += median_table(clean, rules, f"{deployment}: medians of {len(clean)} runs ({what})") + [""]
        else:
            summary += main_table(clean[0], rules, f"{deployment}: {what}") + [""]
    if len(all_runs) > 1:
        summary += ["Deployments side by side (medians; requests per worker % of each run):", "",
                    "| deployment | list | rps | p50 ms | p99 ms | max ms | x /healthz | requests per worker % |",
                    "|---|---|---:|---:|---:|---:|---:|---|"]
        for deployment, runs in all_runs.items():
            m = medians([{k: v for k, v in r.items() if not k.startswith("_")} for r in runs])
            for phase, r in m.items():
                xh = f"{r['x_healthz']:.2f}x" if "x_healthz" in r else "-"
                summary.append(f"| {deployment} | {label(phase, rules)} | {r['rps']:,.0f} | {r['p50']:.2f} | "
                               f"{r['p99']:.2f} | {r['max']:.0f} | {xh} | {r['shares']} |")
        summary.append("")
    return summary


def report_only(paths: list[Path]) -> None:
    """--report: the summary of saved results.json files, their runs pooled per deployment."""
    pooled: dict[str, list[dict]] = {}
    header, rules = [], 0
    for path in paths:
        data = json.loads(Path(path).read_text())
        rules = rules or int(data["args"].get("rules") or 0)
        header.append(f"{path}: app {data['args'].get('app_dir')}, {data['args'].get('seconds')} s a phase, "
                      f"{sum(len(v) for v in data['runs'].values())} run(s)")
        for deployment, runs in data["runs"].items():
            pooled.setdefault(deployment, []).extend(runs)
        machine = data.get("machine", [])
    print("\n".join(summarize(pooled, rules, header + machine)))


def _git_head(path: Path) -> str:
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return head.stdout.strip() + (" + uncommitted changes" if dirty else "")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        PROCS.stop_all()
        print("\ninterrupted: everything the bench started is stopped", file=sys.stderr)
        sys.exit(130)
    finally:
        PROCS.stop_all()
