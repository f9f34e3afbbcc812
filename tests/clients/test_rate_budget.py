"""The per-client rate holds across processes (a real Redis, 3 processes) at a round trip per many requests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recsys.clients.rate_budget import RateBudgets

ROOT = Path(__file__).resolve().parents[2]

# One process of a client's traffic: as many requests as it can for `seconds`, counting what was allowed
# per window, and its round trips to the shared counter.
HAMMER = """
import json, os, sys, time
import django
django.setup()
from recsys.clients.rate_budget import budgets
limit, duration, start, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
while time.time() < start:
    time.sleep(0.001)
allowed, asked, first = {}, 0, time.time()
while time.time() < start + seconds:
    now = time.time()
    ok, _ = budgets.take("throttle_client_42", cost=1, limit=limit, duration=duration, now=now)
    asked += 1
    if ok:
        window = int(now // duration)
        allowed[window] = allowed.get(window, 0) + 1
print(json.dumps({"allowed": allowed, "asked": asked, "leases": budgets.leases, "first": first,
                  "last": time.time()}))
"""


@pytest.mark.redis
@pytest.mark.slow
def test_a_client_spread_over_three_processes_is_held_within_ten_percent_of_its_rate(redis_url, tmp_path):
    limit, duration, seconds = 300, 1, 4.2
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": redis_url, "DEBUG": "1",
           "SECRET_KEY": "rate-budget-test-" + "x" * 40}
    start = time.time() + 5.0  # every process imported and waiting (django.setup() alone takes 1.5-2.2 s here)
    procs = [subprocess.Popen([sys.executable, "-c", HAMMER, str(limit), str(duration), str(start), str(seconds)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    per_window: dict[int, int] = {}
    for r in results:
        for window, n in r["allowed"].items():
            per_window[int(window)] = per_window.get(int(window), 0) + n
    # Whole windows during which every process was asking (a slow start under load shortens the run).
    begin, end = max(r["first"] for r in results), min(r["last"] for r in results)
    whole = [per_window.get(w, 0) for w in range(int(begin // duration) + 1, int(end // duration))]
    asked = sum(r["asked"] for r in results)
    assert whole and asked > 3 * limit * len(whole), "the client asked well over its rate in every window"
    for n in whole:  # every full window: at most the limit, and not more than 10% under it
        assert 0.9 * limit <= n <= limit, (whole, per_window)
    leases = sum(r["leases"] for r in results)
    assert leases < asked / 10, (leases, asked)  # a round trip per many requests, not one per request


def test_without_redis_the_budget_is_the_processs_and_exact(settings):
    settings.REDIS_URL = ""
    budgets = RateBudgets()
    allowed = sum(budgets.take("k", cost=1, limit=100, duration=60, now=120.0)[0] for _ in range(250))
    assert allowed == 100
    assert budgets.take("k", cost=1, limit=100, duration=60, now=180.0)[0]  # the next window
    assert budgets.leases < 250 // 2  # slices of 2 (1/50 of the limit), fewer near the end


def test_a_cost_is_taken_whole_or_refused(settings):
    settings.REDIS_URL = ""
    budgets = RateBudgets()
    assert budgets.take("b", cost=8, limit=10, duration=60, now=0.0)[0]
    assert not budgets.take("b", cost=8, limit=10, duration=60, now=1.0)[0]
    assert budgets.take("b", cost=2, limit=10, duration=60, now=2.0)[0]
    assert not budgets.take("b", cost=1, limit=10, duration=60, now=3.0)[0]
    assert not budgets.take("big", cost=11, limit=10, duration=60, now=3.0)[0]
