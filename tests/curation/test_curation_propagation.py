"""A rule created through the API on one server process shapes lists served by another within a second.

Two real `runserver --noreload` processes on the test database, with and without Redis.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest

from recsys.clients.services import api_client_create
from tests.processes import database_url, free_port, stop, wait_for_http
from tests.serving_world import build_shop

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow]


def _start(stack: ExitStack, env: dict, tmp_path: Path, name: str) -> str:
    port = free_port()
    log = tmp_path / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    stack.callback(stop, proc)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/healthz", proc, log)
    return url


def _call(method: str, url: str, key: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Token {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _first_items(url: str, key: str) -> list[str]:
    status, body = _call("GET", f"{url}/api/v1/popular/?limit=5&placement=home", key)
    assert status == 200, body
    return [i["item_id"] for i in body["items"]]


def _wait_until(predicate, limit: float) -> float:
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > limit:
            raise AssertionError(f"not seen within {limit}s")
        time.sleep(0.02)


def _propagation(tmp_path: Path, extra_env: dict) -> dict:
    build_shop(shoppers_per_category=4)
    _, key = api_client_create(name="propagation", scope="write")
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="config.settings",
               DEBUG="1", PYTHONUNBUFFERED="1", MODEL_DIR=str(tmp_path / "models"), **extra_env)
    with ExitStack() as stack:
        writer = _start(stack, env, tmp_path, "writer")
        reader = _start(stack, env, tmp_path, "reader")
        before = _first_items(reader, key)  # the reader has loaded (empty) rules and serves from its cache
        assert _first_items(reader, key) == before
        target = before[-1]

        status, rule = _call("POST", f"{writer}/api/v1/curation/pins/", key,
                             {"item_id": target, "position": 1, "placement": "home"})
        assert status == 201, rule
        created = _wait_until(lambda: _first_items(reader, key)[0] == target, limit=1.0)

        status, body = _call("PATCH", f"{writer}/api/v1/curation/pins/{rule['id']}/", key, {"enabled": False})
        assert status == 200 and body["status"] == "disabled"
        disabled = _wait_until(lambda: _first_items(reader, key) == before, limit=1.0)

        status, block = _call("POST", f"{writer}/api/v1/curation/blocks/", key, {"item_id": before[0]})
        assert status == 201
        blocked = _wait_until(lambda: before[0] not in _first_items(reader, key), limit=1.0)
        assert _call("DELETE", f"{writer}/api/v1/curation/blocks/{block['id']}/", key)[0] == 204
        deleted = _wait_until(lambda: _first_items(reader, key) == before, limit=1.0)
    return {"created": created, "disabled": disabled, "blocked": blocked, "deleted": deleted}


def test_rule_reaches_another_process_within_a_second_without_redis(transactional_db, tmp_path):
    waits = _propagation(tmp_path, {})
    assert max(waits.values()) < 1.0, waits


def test_rule_reaches_another_process_within_a_second_with_redis(transactional_db, tmp_path, redis_url):
    import redis

    waits = _propagation(tmp_path, {"REDIS_URL": redis_url})
    assert max(waits.values()) < 1.0, waits
    # The writer published the stamp in Redis: that is what the reader checked.
    client = redis.Redis.from_url(redis_url)
    assert [k for k in client.keys("*") if b"curation:rules-stamp" in k]
