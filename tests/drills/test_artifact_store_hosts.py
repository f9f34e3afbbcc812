"""Drill: two web hosts and a training host without a shared disk, versions in object storage (docs/operations.md,
"Many hosts").

A SeaweedFS of the drill's own (`weed mini`), a Redis of its own (broker and stamps), PostgreSQL. "Host A" and "host B"
are two gunicorn instances with their own MODEL_DIR caches; a Celery worker with a third trains. Checked: a training
run is served by both hosts within 2 s of its activation, a rollback too; 20 concurrent erasures spread over both
hosts leave no erased shopper in any answer after its 204, nor in any object of the store, nor in any host's cache;
the store killed under load: lists answer 200 from the versions the hosts have, /readyz says `degraded` (store
down), a training run fails with the reason and activates nothing, and after the restart one succeeds and is served;
a cached file damaged on a host is fetched again.
"""
from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from recsys.clients.services import api_client_create
from recsys.training.models import ModelVersion, TrainingRun
from tests.drills.services import (
    CeleryWorker,
    Gunicorn,
    Load,
    RedisServer,
    SeaweedFS,
    call,
    print_figures,
    server_env,
    wait_until,
)
from tests.processes import database_url
from tests.training_data import FAST_CANDIDATES, make_shop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SERVED_WITHIN = 2.0


def test_two_hosts_follow_the_store_through_training_rollback_erasure_and_an_outage(require_postgres, tmp_path,
                                                                                    capsys):
    make_shop(shoppers=200, items=40, events_per_shopper=8)
    users = [f"u{n}" for n in range(200)]
    _, token = api_client_create(name="drill", scope="write")
    store, redis_server = SeaweedFS(tmp_path / "s3"), RedisServer(tmp_path)
    store.start()
    redis_server.start()
    common = dict(DATABASE_URL=database_url(), REDIS_URL=redis_server.url, **store.env(),
                  CURIO_TRAINING_CANDIDATES=json.dumps(FAST_CANDIDATES), CURIO_TRAINING_NUM_THREADS="1",
                  CURIO_TRAINING_SEARCH_FITS="6")
    caches = {name: tmp_path / name for name in ("host-a", "host-b", "trainer")}
    hosts = {name: Gunicorn(server_env(**common, MODEL_DIR=str(caches[name]),
                                       PROMETHEUS_MULTIPROC_DIR=str(tmp_path / f"metrics-{name}")),
                            tmp_path / f"{name}.log", workers=2)
             for name in ("host-a", "host-b")}
    worker = CeleryWorker(server_env(**common, MODEL_DIR=str(caches["trainer"])), tmp_path / "worker.log")
    figures: dict = {}
    try:
        for host in hosts.values():
            host.start()
        worker.start()
        a, b = hosts["host-a"].url, hosts["host-b"].url

        # 1. A training run: both hosts serve it within 2 s of its activation.
        first = _train(a, token)
        figures["activation_to_served_s"] = _served_within(hosts, token, first, users[0])
        second = _train(b, token)
        figures["second_version_served_s"] = _served_within(hosts, token, second, users[0])

        # 2. Rollback through host B: both hosts serve the first version again.
        assert call("POST", f"{b}/api/v1/model-versions/{first}/activate/", token)[0] == 200
        figures["rollback_to_served_s"] = _served_within(hosts, token, first, users[0])

        # 3. Twenty concurrent erasures, spread over both hosts.
        erased = users[:20]
        answers: dict[str, int] = {}
        barrier = threading.Barrier(len(erased))

        def erase(n: int, user: str) -> None:
            barrier.wait()
            base = a if n % 2 else b
            answers[user] = call("DELETE", f"{base}/api/v1/users/{user}/", token, timeout=90)[0]
            # At once after the 204, from both hosts: nothing personal for the erased shopper.
            for host_url in (a, b):
                status, body, _ = call("GET", f"{host_url}/api/v1/users/{user}/recommendations/?limit=5", token)
                personal = [i for i in body.get("items", ()) if i["source"] == "model"]
                answers[f"{user}@{host_url}"] = status if not personal else -1

        threads = [threading.Thread(target=erase, args=(n, u)) for n, u in enumerate(erased)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        figures["erasures"] = {"count": len(erased), "seconds": round(time.perf_counter() - started, 2),
                               "answers": sorted(set(v for k, v in answers.items() if "@" not in k)),
                               "lists_after": sorted(set(v for k, v in answers.items() if "@" in k))}
        assert [answers[u] for u in erased] == [204] * len(erased), answers
        assert all(v == 200 for k, v in answers.items() if "@" in k), answers
        s3 = store.store()
        assert not _erased_in_store(s3, erased)
        left = wait_until(lambda: not _erased_in_caches(caches, erased), 10)
        assert left, _erased_in_caches(caches, erased)
        figures["store_objects"] = len(s3.objects())

        # 4. The store killed under load: lists keep answering 200 from what the hosts have.
        loads = [Load(url, token, users=users[20:], items=[f"i{n}" for n in range(40)], threads=2) for url in (a, b)]
        for load in loads:
            load.start()
        time.sleep(1)
        store.stop()
        def store_down_reported() -> bool:  # each process's sync thread pings the store every 5 s
            ready = call("GET", f"{a}/readyz")[1]
            return ready["status"] == "degraded" and ready["components"]["store"]["status"] == "down"

        assert wait_until(store_down_reported, 15), call("GET", f"{a}/readyz")[1]
        failed_run = _train(a, token, expect="failed")
        run = TrainingRun.objects.get(pk=failed_run)
        assert "artifact store" in run.error and run.model_version.artifact_path == ""
        assert ModelVersion.objects.get(is_active=True).pk == first  # nothing half-activated
        store.start()
        third = _train(b, token)
        figures["after_restart_served_s"] = _served_within(hosts, token, third, users[30])
        for load in loads:
            load.stop()
        figures["outage_load"] = [load.figures() for load in loads]
        for load in loads:
            assert set(load.statuses["lists"]) == {200}, load.figures()
            assert not load.bad_bodies, load.bad_bodies[:3]

        # 5. A damaged file in a host's cache is fetched again (its size no longer matches the manifest).
        damaged = caches["host-a"] / str(third) / "item_ids.npy"
        whole = damaged.read_bytes()
        damaged.write_bytes(whole[: len(whole) // 2])
        assert wait_until(lambda: damaged.stat().st_size == len(whole), 10)
        assert damaged.read_bytes() == whole

        # 6. Each host's metrics: what it fetched, what it keeps, how old its view is.
        text = call("GET", f"{b}/metrics", token)[1]["_text"]
        samples = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
                   if line.startswith("curio_artifact") or line.startswith("curio_model_")}
        figures["host_b_metrics"] = samples
        assert samples["curio_artifact_downloads_total"] > 0 and samples["curio_artifact_download_bytes_total"] > 0
        assert samples["curio_model_cache_versions"] == 2  # the active and the previous
        assert time.time() - samples["curio_model_view_confirmed_timestamp_seconds"] < 5
    finally:
        worker.close()
        for host in hosts.values():
            host.close()
        redis_server.close()
        store.close()
    print_figures(capsys, "two hosts, one artifact store", figures)
    for key in ("activation_to_served_s", "second_version_served_s", "rollback_to_served_s",
                "after_restart_served_s"):
        assert max(figures[key].values()) <= SERVED_WITHIN, figures


def _train(base: str, token: str, *, expect: str = "succeeded") -> int:
    """POST a training run, wait for it; the version id (or, when expecting a failure, the run id)."""
    status, body, _ = call("POST", f"{base}/api/v1/training-runs/", token, {})
    assert status == 202, body
    run = wait_until(lambda: TrainingRun.objects.filter(pk=body["id"], status__in=["succeeded", "failed",
                                                                                   "rejected"]).first(), 180)
    assert run and run.status == expect, (run and (run.status, run.error))
    return run.model_version.pk if expect == "succeeded" else run.pk


def _served_within(hosts: dict, token: str, version: int, user: str) -> dict[str, float]:
    """Seconds from the version's activation (its database timestamp) until each host serves it."""
    activated = ModelVersion.objects.get(pk=version).activated_at.timestamp()
    out = {}
    for name, host in hosts.items():
        def serves(url: str = host.url) -> bool:
            body = call("GET", f"{url}/api/v1/users/{user}/recommendations/?limit=5", token)[1]
            return body.get("model_version") == version

        assert wait_until(serves, 10, step=0.02), f"{name} did not serve version {version}"
        out[name] = round(time.time() - activated, 3)
    return out


def _erased_in_store(s3, erased: list[str]) -> list[str]:
    found = []
    for meta in s3.objects():
        if meta["path"].endswith("user_ids.npy"):
            ids = set(np.load(io.BytesIO(s3.read(meta["path"]))).tolist())
            found += [f"{meta['path']}:{u}" for u in erased if u in ids]
    return found


def _erased_in_caches(caches: dict[str, Path], erased: list[str]) -> list[str]:
    found = []
    for name, cache in caches.items():
        for ids_file in cache.glob("**/user_ids.npy"):
            try:
                ids = set(np.load(ids_file).tolist())
            except (OSError, ValueError):
                continue  # being replaced right now
            found += [f"{name}:{ids_file.relative_to(cache)}:{u}" for u in erased if u in ids]
    return found
