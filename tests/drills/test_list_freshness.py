"""Freshness across processes: once `POST /events/` has answered, the next list in every gunicorn worker reflects
it (a purchased item leaves the shopper's list at once: lists read the shopper's history per request, with no
per-process copy to go stale). gunicorn's access log names the worker that served each list."""
from __future__ import annotations

import re
import time

import pytest

from recsys.clients.services import api_client_create
from tests import factories
from tests.drills.services import Gunicorn, call, server_env
from tests.processes import database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WORKERS = 3


def _list_ids(base: str, token: str, user_id: str) -> list[str]:
    status, body, _ = call("GET", f"{base}/api/v1/users/{user_id}/recommendations/?limit=5", token)
    assert status == 200, body
    return [item["item_id"] for item in body["items"]]


def _workers_serving(log_text: str, user_id: str) -> set[str]:
    path = f"/api/v1/users/{user_id}/recommendations/"
    return {m.group(1) for m in re.finditer(r"^pid=<?(\d+)>? (\S+)$", log_text, re.M) if m.group(2) == path}


def test_a_purchase_leaves_the_next_list_of_every_worker(tmp_path):
    factories.items(*(f"sku-{n}" for n in range(12)))
    for n in range(12):  # a popularity order: sku-0 first
        for k in range(12 - n):
            factories.event(f"crowd-{k}", f"sku-{n}", "purchase")
    factories.event("u1", "sku-11", "view")  # a known shopper without a model: popular minus what they saw
    _, token = api_client_create(name="freshness", scope="write")
    log = tmp_path / "gunicorn.log"
    web = Gunicorn(server_env(DATABASE_URL=database_url(), MODEL_DIR=str(tmp_path / "models")), log,
                   workers=WORKERS, extra_args=("--access-logfile", str(tmp_path / "access.log"),
                                                "--access-logformat", "pid=%(p)s %(U)s"))
    try:
        web.start()
        before = [_list_ids(web.url, token, "u1") for _ in range(30)]  # a new connection each: any worker
        assert all(ids[0] == "sku-0" for ids in before), before[:3]
        status, body, _ = call("POST", f"{web.url}/api/v1/events/", token,
                               [{"event_id": "fresh-1", "user_id": "u1", "item_id": "sku-0", "type": "purchase"}])
        assert status == 200 and body["accepted"] == 1, body
        served_before = len((tmp_path / "access.log").read_text())
        after, workers, deadline = [], set(), time.monotonic() + 60
        while len(workers) < WORKERS and time.monotonic() < deadline:  # until every worker has served one
            after += [_list_ids(web.url, token, "u1") for _ in range(10)]
            workers = _workers_serving((tmp_path / "access.log").read_text()[served_before:], "u1")
        assert len(workers) == WORKERS, f"lists after the purchase came from workers {workers} only"
        assert all("sku-0" not in ids and ids[0] == "sku-1" for ids in after), [a for a in after if "sku-0" in a]
    finally:
        web.close()
