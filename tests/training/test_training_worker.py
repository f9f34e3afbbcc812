"""Training through a real Celery worker process on Redis (marked worker/redis; CI runs them).

The worker is `celery -A config worker -Q celery,training -P solo` in its own process group, with
REDIS_URL=<test redis> and DATABASE_URL pointing at this test run's database; it is always killed
at teardown. Heartbeats are fast here (settings passed as env) so a lost worker is seen in seconds.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import kombu.pools
import pytest
from django.db import connection
from rest_framework.test import APIClient

from recsys.models import ModelVersion, TrainingRun
from recsys.training import services
from tests.factories import served_version
from tests.processes import database_url
from tests.training_data import FAST_CANDIDATES, make_shop

pytestmark = [pytest.mark.worker, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_TIMEOUT = 3.0


@pytest.fixture
def celery_on_redis(redis_url, settings, tmp_path):
    """This process sends tasks to the test Redis; returns a function that starts workers."""
    from config.celery import app

    settings.MODEL_DIR = tmp_path / "models"
    settings.TRAINING_NUM_THREADS = 1
    settings.TRAINING_CANDIDATES = FAST_CANDIDATES
    settings.TRAINING_EXECUTOR = "celery"
    settings.TRAINING_HEARTBEAT_TIMEOUT = HEARTBEAT_TIMEOUT
    saved = app.conf.broker_url, app.conf.broker_transport_options

    def reset_pool():  # drop cached broker connections so the new broker URL is used
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    reset_pool()
    app.conf.broker_url, app.conf.broker_transport_options = redis_url, {}
    workers: list[subprocess.Popen] = []

    def start_worker(**env_extra) -> subprocess.Popen:
        log_path = tmp_path / f"worker-{len(workers)}.log"
        env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", "REDIS_URL": redis_url,
            "DATABASE_URL": database_url(), "MODEL_DIR": str(settings.MODEL_DIR),
            "CURIO_TRAINING_NUM_THREADS": "1", "CURIO_TRAINING_CANDIDATES": json.dumps(FAST_CANDIDATES),
            "CURIO_TRAINING_HEARTBEAT_SECONDS": "0.3", "CURIO_TRAINING_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            **{k: str(v) for k, v in env_extra.items()},
        }
        env.pop("CURIO_TEST_REDIS_URL", None)
        log = open(log_path, "w")  # noqa: SIM115 - closed with the process below
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "celery,training", "-P", "solo",
             "-n", f"test-{uuid.uuid4().hex[:8]}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        proc.log_path, proc.log_file = log_path, log
        workers.append(proc)
        deadline = time.monotonic() + 60
        while "ready." not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        return proc

    yield start_worker
    for proc in workers:
        kill(proc)
        proc.log_file.close()
    reset_pool()
    app.conf.broker_url, app.conf.broker_transport_options = saved


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def finished(run_id: int) -> TrainingRun | None:
    run = TrainingRun.objects.get(pk=run_id)
    return run if run.status in ("succeeded", "failed", "rejected") else None


def train_inline() -> ModelVersion:
    run, _ = services.training_run_start(triggered_by="test", executor="inline")
    done = services.training_run_execute(run_id=run.pk)
    assert done.status == "succeeded", done.error
    return done.model_version


def test_worker_trains_through_the_api(celery_on_redis, write_api, settings):
    make_shop()
    worker = celery_on_redis()
    response = write_api.post("/api/v1/training-runs/", {}, format="json")
    assert response.status_code == 202
    run = wait_for(lambda: finished(response.json()["id"]), 120, "the run to finish")
    assert run.status == "succeeded", f"{run.error}\n{worker.log_path.read_text()[-3000:]}"
    assert run.worker_pid == worker.pid and run.worker_pid != os.getpid()
    assert run.executor == "celery"
    version = ModelVersion.objects.get(is_active=True)
    assert version.run_id == run.pk
    assert served_version() == version.pk


def test_killed_worker_is_detected_and_a_new_run_can_start(celery_on_redis, write_api, settings):
    make_shop()
    previous = train_inline()
    worker = celery_on_redis(CURIO_TRAINING_STAGE_DELAY_SECONDS=1.5)
    run_id = write_api.post("/api/v1/training-runs/", {}, format="json").json()["id"]
    wait_for(lambda: TrainingRun.objects.filter(pk=run_id, status="running", stage__in=["select", "fit"]).exists(),
             60, "the run to reach model selection")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert ModelVersion.objects.get(is_active=True).pk == previous.pk
    assert served_version() == previous.pk
    time.sleep(HEARTBEAT_TIMEOUT + 1)
    again = write_api.post("/api/v1/training-runs/", {}, format="json").json()
    assert again["created"] is True and again["id"] != run_id
    lost = TrainingRun.objects.get(pk=run_id)
    assert lost.status == "failed" and lost.error.startswith("worker lost"), lost.error
    assert lost.lock is None and ModelVersion.objects.get(is_active=True).pk == previous.pk
    celery_on_redis()
    run = wait_for(lambda: finished(again["id"]), 120, "the new run to finish")
    assert run.status == "succeeded", run.error
    assert ModelVersion.objects.get(is_active=True).run_id == run.pk


def test_injected_failure_in_the_worker_keeps_the_previous_version(celery_on_redis, write_api, settings):
    make_shop()
    previous = train_inline()
    worker = celery_on_redis(CURIO_TRAINING_FAIL_AT_STAGE="fit")
    run_id = write_api.post("/api/v1/training-runs/", {}, format="json").json()["id"]
    run = wait_for(lambda: finished(run_id), 120, "the run to finish")
    assert run.status == "failed" and "injected failure at stage fit" in run.error
    assert run.worker_pid == worker.pid and run.lock is None
    assert ModelVersion.objects.get(is_active=True).pk == previous.pk
    assert served_version() == previous.pk


def test_two_simultaneous_triggers_produce_one_training(celery_on_redis, write_api):
    make_shop()
    celery_on_redis()
    token = write_api._credentials["HTTP_AUTHORIZATION"]
    barrier, answers = threading.Barrier(2), []

    def trigger():
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=token)
        barrier.wait()
        answers.append(api.post("/api/v1/training-runs/", {}, format="json"))
        connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [a.status_code for a in answers] == [202, 202]
    bodies = [a.json() for a in answers]
    assert bodies[0]["id"] == bodies[1]["id"] and sorted(b["created"] for b in bodies) == [False, True]
    wait_for(lambda: finished(bodies[0]["id"]), 120, "the run to finish")
    time.sleep(1)
    assert TrainingRun.objects.count() == 1 and ModelVersion.objects.count() == 1
