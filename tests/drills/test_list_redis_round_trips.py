"""A list makes no Redis round trip of its own (issue #26): served by gunicorn with Redis, in steady state, no Redis
command is issued once per list, of any list type. What Redis does see is per process and per interval, not per
list: the throttle's budget leases, the stamp polls, the impression batches pushed by a background thread (their
count grows with the seconds the requests take, not with the requests).
(The database side, one query for a personal list and none for the others once warm, is counted in-process:
tests/serving/test_serving_lists.py and tests/exploration.)"""
from __future__ import annotations

import http.client
import json

import pytest
import redis

from recsys.clients.services import api_client_create
from tests import factories
from tests.drills.services import Gunicorn, print_figures, server_env
from tests.processes import database_url

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
REQUESTS = 600
ITEMS = [f"sku-{n}" for n in range(40)]
SHOPPERS = [f"u{n}" for n in range(20)]


def _commands(r: redis.Redis) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in r.info("commandstats").items()}


def _send(conn: http.client.HTTPConnection, token: str, method: str, path: str, body: dict | None) -> None:
    conn.request(method, path, body=None if body is None else json.dumps(body),
                 headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    assert response.status == 200, payload[:300]


def test_every_list_type_costs_redis_far_less_than_a_command_per_request(tmp_path, redis_url, capsys):
    factories.items(*ITEMS)
    for n, user in enumerate(SHOPPERS):
        for k in range(5):
            factories.event(user, ITEMS[(n + 3 * k) % len(ITEMS)], "view")
    factories.stored_version(tmp_path / "models", 1, SHOPPERS, ITEMS, active=True)
    _, token = api_client_create(name="round-trips", scope="write")
    lists = {
        "personal": ("GET", "/api/v1/users/u3/recommendations/?limit=10", None),
        "unknown shopper": ("GET", "/api/v1/users/stranger/recommendations/?limit=10", None),
        "popular": ("GET", "/api/v1/popular/?limit=10", None),
        "similar": ("GET", "/api/v1/items/sku-5/similar/?limit=10", None),
        "basket": ("POST", "/api/v1/recommendations/basket/", {"item_ids": ["sku-1", "sku-2"], "limit": 10}),
    }
    # What is per interval is made rare (a minute), so that what remains is what a list itself costs.
    env = server_env(DATABASE_URL=database_url(), REDIS_URL=redis_url, MODEL_DIR=str(tmp_path / "models"),
                     CURIO_CURATION_CHECK_SECONDS="60", CURIO_MODEL_POLL_SECONDS="60",
                     CURIO_IMPRESSION_FLUSH_SECONDS="60")
    web = Gunicorn(env, tmp_path / "gunicorn.log", workers=3)
    r = redis.Redis.from_url(redis_url)
    try:
        web.start()
        per_request = {}
        for name, (method, path, body) in lists.items():
            conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
            for _ in range(30):  # warm: token, cards, popular tail, the model mapped, a budget slice leased
                _send(conn, token, method, path, body)
            before = _commands(r)
            for _ in range(REQUESTS):
                _send(conn, token, method, path, body)
            after = _commands(r)
            conn.close()
            calls = {cmd: n - before.get(cmd, 0) for cmd, n in after.items() if n - before.get(cmd, 0) > 0}
            calls.pop("info", None)  # this test's own
            per_request[name] = {cmd: round(n / REQUESTS, 3) for cmd, n in sorted(calls.items(), key=lambda c: -c[1])}
        print_figures(capsys, f"Redis commands per list request over {REQUESTS} requests (all processes)", per_request)
        # What remains comes per batch or per interval (an impression batch per IMPRESSION_FLUSH_SIZE rows: one
        # script, counted as its EXISTS, LLEN, SET and RPUSH; a budget lease per slice; stamp polls): 0.003 to
        # 0.08 of a command per list, varying from run to run with how the rows fall into batches. A command
        # issued per list is 1.0.
        for name, calls in per_request.items():
            assert all(n < 0.2 for n in calls.values()), f"{name}: a command issued per list? {calls}"
            assert sum(calls.values()) < 1.0, f"{name}: {calls}"
    finally:
        web.close()
