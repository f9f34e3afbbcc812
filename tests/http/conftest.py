"""A served instance for the tests that call the API from outside: schemathesis and the generated clients."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from tests.processes import ROOT, database_url, free_port, stop, wait_for_http
from tests.serving_world import build_shop, reset_serving_caches, train_and_activate

ARTIFACTS = ROOT / "test-artifacts"


@dataclass(frozen=True)
class Served:
    base: str
    token: str  # write scope
    user_id: str  # a shopper with history the model knows
    item_id: str  # an item the model knows


def add_example_catalog() -> None:
    """The items and shopper the schema's examples name (recsys/serving/examples.py, the rule and feedback
    examples), so schemathesis' examples phase creates rules its stateful phase then reads, changes and deletes."""
    from recsys.models import Item, Shopper

    Item.objects.bulk_create([Item(item_id=item_id, title=f"Example {item_id}", category="shoes")
                              for item_id in ("sku-1", "sku-2", "sku-4", "sku-9")])
    Shopper.objects.create(user_id="u-481")


@pytest.fixture
def served_instance(transactional_db, tmp_path, request) -> Served:
    """A server (`runserver`, DEBUG off) with a trained, active model on the test database, and a write token."""
    from recsys.clients.services import api_client_create

    build_shop()
    add_example_catalog()
    train_and_activate(tmp_path / "models")
    reset_serving_caches()
    _, token = api_client_create(name=f"outside-{request.node.name}"[:100], scope="write")
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG"}}
    env.update(DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="config.settings", DEBUG="0",
               SECRET_KEY="schemathesis-" + "x" * 40, ALLOWED_HOSTS="127.0.0.1",
               MODEL_DIR=str(tmp_path / "models"), PYTHONUNBUFFERED="1")
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"server-{request.node.name}.log"
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", proc, log)
        yield Served(base, token, user_id="books-fan-0", item_id="books-1")
    finally:
        stop(proc)
