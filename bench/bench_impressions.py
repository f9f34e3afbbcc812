"""Serving latency with and without impression recording, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/curio_trust .venv/bin/python bench/bench_impressions.py
    (no DATABASE_URL: a fresh SQLite file under var/)

Setup: a shop of --shoppers x --items with ~--events-per-shopper events each (bulk-inserted,
reused when present), an ALS model (32 factors) fitted with implicit and activated. Then GET
/api/v1/users/<id>/recommendations/?limit=10&placement=home through the full Django stack
(middleware, token auth, DRF) for random known shoppers, in alternating phases with
CURIO_IMPRESSIONS off and on (off, on, off, on: drift hits both alike). With recording on, the
background flusher thread writes the impressions to the database in bulk while requests run,
as in production without Redis. Prints p50/p90 per mode, the p50 ratio, the impressions
written (checked against the DB) and the cost of the `record_list` call itself against a bare
`deque.extend` of the same rows (the raw floor of an in-process buffer).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("API_THROTTLE_RATE", "")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-impressions.sqlite3'}")
os.environ["CURIO_CONTROL_SHARE"] = "0"
os.environ["CURIO_IMPRESSION_BACKGROUND_FLUSH"] = "1"
os.environ["MODEL_DIR"] = tempfile.mkdtemp(prefix="curio-bench-models-")
os.environ.pop("REDIS_URL", None)
MARK = "bench-impressions-v1"


def ensure_shop(shoppers: int, items: int, per_shopper: int) -> None:
    from django.utils import timezone

    from recsys.models import Event, Item, Shopper

    if Item.objects.filter(item_id="bi-0", attributes__mark=MARK).exists():
        print("data: bench shop already present, reusing it")
        return
    rng = random.Random(0)
    Item.objects.bulk_create([Item(item_id=f"bi-{j}", title=f"Item {j}", category=f"c{j % 20}",
                                   attributes={"mark": MARK}) for j in range(items)], batch_size=5000)
    Shopper.objects.bulk_create([Shopper(user_id=f"bs-{u}") for u in range(shoppers)], batch_size=5000)
    item_pk = dict(Item.objects.filter(item_id__startswith="bi-").values_list("item_id", "id"))
    shopper_pk = dict(Shopper.objects.filter(user_id__startswith="bs-").values_list("user_id", "id"))
    now = timezone.now()
    batch = []
    for u in range(shoppers):
        taste = rng.randrange(20)
        for k in range(per_shopper):
            j = rng.randrange(items // 20) * 20 + taste if rng.random() < 0.8 else int(rng.paretovariate(1.2)) % items
            batch.append(Event(event_id=f"be-{u}-{k}", shopper_id=shopper_pk[f"bs-{u}"], item_id=item_pk[f"bi-{j}"],
                               type="purchase" if k == 0 else "view", timestamp=now))
        if len(batch) >= 20_000:
            Event.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Event.objects.bulk_create(batch, ignore_conflicts=True)


def train_and_activate(model_dir: Path) -> int:
    import implicit
    import numpy as np
    import scipy.sparse as sp

    from recsys.ml import artifacts
    from recsys.models import Event, ModelVersion

    rows = list(Event.objects.filter(item__item_id__startswith="bi-")
                .values_list("shopper__user_id", "item__item_id"))
    users = sorted({r[0] for r in rows})
    items = sorted({r[1] for r in rows})
    ui, ii = {u: i for i, u in enumerate(users)}, {x: j for j, x in enumerate(items)}
    m = sp.csr_matrix((np.ones(len(rows), np.float32), ([ui[r[0]] for r in rows], [ii[r[1]] for r in rows])),
                      shape=(len(users), len(items)))
    als = implicit.cpu.als.AlternatingLeastSquares(factors=32, iterations=10, regularization=0.05, random_state=0,
                                                   num_threads=1)
    als.fit(m, show_progress=False)
    v = ModelVersion.objects.create(kind="als", params={"factors": 32, "regularization": 0.05})
    unit = als.item_factors / np.maximum(np.linalg.norm(als.item_factors, axis=1, keepdims=True), 1e-9)
    sims = unit @ unit.T
    np.fill_diagonal(sims, 0)
    top = np.argsort(-sims, axis=1)[:, :20]
    sim = sp.csr_matrix((np.take_along_axis(sims, top, 1).ravel(), (np.repeat(np.arange(len(items)), 20),
                                                                     top.ravel())), shape=sims.shape, dtype=np.float32)
    path = artifacts.save(artifacts.Artifact(kind="als", version=v.pk, user_ids=np.array(users),
                                             item_ids=np.array(items), similarity=sim, user_factors=als.user_factors,
                                             item_factors=als.item_factors, params=v.params), model_dir)
    from django.test import override_settings

    from recsys.training import stored_versions
    from recsys.training.versions import model_version_activate

    with override_settings(MODEL_DIR=model_dir):
        stored_versions.version_store(v, path)
        model_version_activate(version_id=v.pk)
    return v.pk


def phase(client, headers, users, n: int) -> list[float]:
    lat = []
    for _ in range(n):
        u = random.choice(users)
        t = time.perf_counter()
        r = client.get(f"/api/v1/users/{u}/recommendations/", {"limit": 10, "placement": "home"}, **headers)
        lat.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.content[:200]
    return lat


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shoppers", type=int, default=5000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--events-per-shopper", type=int, default=12)
    parser.add_argument("--requests", type=int, default=1500, help="per phase; 4 phases")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings

    from recsys.analytics import impression_buffer
    from recsys.clients.services import api_client_create
    from recsys.models import Impression

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    ensure_shop(args.shoppers, args.items, args.events_per_shopper)
    version = train_and_activate(Path(settings.MODEL_DIR))
    print(f"setup: {time.perf_counter() - t0:.1f}s; DB {connection.vendor}; {args.shoppers:,} shoppers x "
          f"{args.items:,} items, ~{args.shoppers * args.events_per_shopper:,} events; model v{version}")
    Impression.objects.all().delete()
    _, key = api_client_create(name=f"bench-impressions-{os.getpid()}", scope="read")
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    client = Client()
    users = [f"bs-{u}" for u in range(args.shoppers)]
    with override_settings(IMPRESSIONS_ENABLED=False):
        phase(client, headers, users, 200)  # warm up: model mmap, caches

    results: dict[bool, list[float]] = {False: [], True: []}
    for enabled in (False, True, False, True):
        with override_settings(IMPRESSIONS_ENABLED=enabled):
            results[enabled] += phase(client, headers, users, args.requests)
    buf = impression_buffer.buffer()
    buf.close()  # final flush, joins the flusher thread
    buf.flush()
    written = Impression.objects.count()

    # The request-path cost of recording: record_list vs a bare deque.extend of the same rows.
    items = [{"item_id": f"bi-{j}", "rank": j + 1, "source": "model", "trace": {"rules": []}} for j in range(10)]
    with override_settings(IMPRESSION_BACKGROUND_FLUSH=False, IMPRESSION_BUFFER_MAX=10**9):
        n = 20_000
        t = time.perf_counter()
        for i in range(n):
            impression_buffer.record_list(recommendation_id=f"r{i}", items=items, placement="home",
                                          list_type="personal", model_version=1, user_id="bs-1")
        record_us = (time.perf_counter() - t) / n * 1e6
        buf.drain()
        rows = impression_buffer.rows_for_list(recommendation_id="r", items=items, placement="home",
                                               list_type="personal", model_version=1, user_id="bs-1",
                                               is_control=False, created_at=0.0)
        raw: deque = deque()
        t = time.perf_counter()
        for _ in range(n):
            raw.extend(rows)
        raw_us = (time.perf_counter() - t) / n * 1e6

    off, on = results[False], results[True]
    print(f"requests: {len(off)} without and {len(on)} with impression recording (alternating phases of "
          f"{args.requests}), limit=10, one client, Django test client through the full stack")
    print(f"without recording: p50 {pct(off, 50):.2f} ms, p90 {pct(off, 90):.2f} ms")
    print(f"with recording:    p50 {pct(on, 50):.2f} ms, p90 {pct(on, 90):.2f} ms")
    print(f"p50 ratio with/without: {pct(on, 50) / pct(off, 50):.3f}")
    print(f"impressions written to the DB by the flusher: {written:,} (expected {len(on) * 10:,}); "
          f"dropped {buf.dropped}")
    print(f"record_list per list of 10: {record_us:.2f} us; bare deque.extend of the same rows: {raw_us:.2f} us "
          f"(ratio {record_us / raw_us:.1f}x)")
    shutil.rmtree(settings.MODEL_DIR, ignore_errors=True)
    if written != len(on) * 10:
        sys.exit("impressions lost")


if __name__ == "__main__":
    main()
