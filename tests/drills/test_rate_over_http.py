"""The per-client rate and a scoped rate hold over HTTP when one client's requests spread over every gunicorn
worker (a real Redis, 3 workers): in every whole window the client gets its rate, within 10%, and no more.

tests/clients/test_rate_budget.py checks the shared budget itself from 3 processes; this drill checks the
deployment: DRF's throttles, the budget leases of each worker, and the scoped rate (a batch list counts per
shopper, CURIO_THROTTLE_BATCH) on top of the client's own (API_THROTTLE_RATE). The server's `Date` header (whole
seconds, taken as the answer starts) says which one-second window each answer fell in.
"""
from __future__ import annotations

import http.client
import json
import re
import threading
import time
from email.utils import parsedate_to_datetime

import pytest

from recsys.clients.services import api_client_create
from tests import factories
from tests.drills.services import Gunicorn, print_figures, server_env
from tests.processes import database_url

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
WORKERS, THREADS, SECONDS = 3, 6, 5.5
CLIENT_RATE, BATCH_RATE, BATCH_SHOPPERS = 60, 40, 2  # per second; a batch of 2 shoppers costs 2 of its 40


def _hammer(port: int, token: str, method: str, path: str, body: bytes | None, until: float, out: list) -> None:
    """One keep-alive connection sending `method path` until `until`: (status, the server's second) per answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    while time.time() < until:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        second = int(parsedate_to_datetime(response.getheader("Date")).timestamp())
        out.append((response.status, second))
    conn.close()


def _allowed_per_window(port: int, token: str, method: str, path: str, body: bytes | None = None):
    """Hammer `path` from THREADS connections for SECONDS: (answers per status, 200s per whole window)."""
    answers: list[tuple[int, int]] = []
    until = time.time() + SECONDS
    threads = [threading.Thread(target=_hammer, args=(port, token, method, path, body, until, answers))
               for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = sorted({s for _, s in answers})
    whole = seconds[1:-1]  # the first and last windows are partly outside the run
    per_window = {s: sum(1 for status, t in answers if t == s and status == 200) for s in whole}
    statuses: dict[int, int] = {}
    for status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return statuses, per_window


def _workers_allowed(access_log: str, path: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^pid=<?(\d+)>? (\S+) (\d+)$", access_log, re.M)
            if m.group(2) == path and m.group(3) == "200"}


def test_one_client_spread_over_every_worker_is_held_within_ten_percent_of_its_rates(tmp_path, redis_url, capsys):
    factories.items(*(f"sku-{n}" for n in range(20)))
    for n in range(20):
        factories.event(f"crowd-{n}", f"sku-{n}", "purchase")
    _, token = api_client_create(name="spread", scope="write")
    env = server_env(DATABASE_URL=database_url(), REDIS_URL=redis_url, MODEL_DIR=str(tmp_path / "models"),
                     API_THROTTLE_RATE=f"{CLIENT_RATE}/s", CURIO_THROTTLE_BATCH=f"{BATCH_RATE}/s")
    access = tmp_path / "access.log"
    web = Gunicorn(env, tmp_path / "gunicorn.log", workers=WORKERS,
                   extra_args=("--access-logfile", str(access), "--access-logformat", "pid=%(p)s %(U)s %(s)s"))
    try:
        web.start()
        # The client's own rate, on popular lists.
        statuses, per_window = _allowed_per_window(web.port, token, "GET", "/api/v1/popular/?limit=5")
        assert statuses.get(429, 0) > statuses.get(200, 0), f"the client asked well over its rate: {statuses}"
        assert len(per_window) >= 3, per_window
        for second, allowed in per_window.items():
            assert 0.9 * CLIENT_RATE <= allowed <= 1.1 * CLIENT_RATE, (second, per_window, statuses)
        served_by = _workers_allowed(access.read_text(), "/api/v1/popular/")
        assert len(served_by) == WORKERS, f"allowed requests came from workers {served_by} only"
        print_figures(capsys, "client rate over HTTP", {"rate": CLIENT_RATE, "answers": statuses,
                                                        "allowed per whole window": list(per_window.values())})

        # The batch scope's rate (per shopper), below the client's own: the scope is what holds.
        body = json.dumps({"user_ids": [f"crowd-{n}" for n in range(BATCH_SHOPPERS)], "limit": 3}).encode()
        statuses, per_window = _allowed_per_window(web.port, token, "POST", "/api/v1/recommendations/batch/", body)
        assert statuses.get(429, 0) > statuses.get(200, 0), statuses
        assert len(per_window) >= 3, per_window
        expected = BATCH_RATE / BATCH_SHOPPERS
        for second, allowed in per_window.items():
            assert 0.9 * expected <= allowed <= 1.1 * expected, (second, per_window, statuses)
        served_by = _workers_allowed(access.read_text(), "/api/v1/recommendations/batch/")
        assert len(served_by) == WORKERS, f"allowed batches came from workers {served_by} only"
        print_figures(capsys, "batch scope over HTTP", {"rate": f"{BATCH_RATE} shoppers/s", "answers": statuses,
                                                        "batches allowed per whole window": list(per_window.values())})
    finally:
        web.close()
