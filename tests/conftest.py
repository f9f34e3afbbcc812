"""Shared fixtures: API clients with tokens, and real-service requirements.

Real-service tests skip with a reason when the service is absent, except in CI (CI=true),
where a missing service fails the run.
"""
from __future__ import annotations

import os

import pytest
from django.db import connection
from rest_framework.test import APIClient

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes", "on"}
TEST_REDIS_URL = os.environ.get("CURIO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_configure(config):
    """The folders the settings name (var/: the SQLite test databases; STATIC_ROOT), as manage.py makes them."""
    from config.runtime_dirs import runtime_dirs_ensure

    runtime_dirs_ensure()


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def require_postgres(db):
    if connection.vendor != "postgresql":
        _unavailable("needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test")


@pytest.fixture
def redis_url() -> str:
    """A reachable, flushed Redis database for this test."""
    try:
        import redis

        client = redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=1)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"needs Redis at {TEST_REDIS_URL} ({exc})")
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()


class SigningAPIClient(APIClient):
    """A public token's client whose requests carry the shopper's signature, as a shop's page would send the
    one its backend made: for the shopper in the path (`/users/<id>/`), the `user_id` parameter, or the body's
    `user_id` (or a batch's single `user_ids` entry). `sign=False` on a request sends none."""

    def __init__(self, signing_secret: str, **kwargs):
        super().__init__(**kwargs)
        self.signing_secret = signing_secret

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=False, **extra):
        if extra.pop("sign", True) and "HTTP_CURIO_SHOPPER_SIGNATURE" not in extra:
            user_id = _shopper_named(path, extra.get("QUERY_STRING", ""), data)
            if user_id:
                from recsys.clients.shopper_signatures import sign_shopper

                extra["HTTP_CURIO_SHOPPER_SIGNATURE"] = sign_shopper(self.signing_secret, user_id)
        return super().generic(method, path, data, content_type, secure=secure, **extra)


def _shopper_named(path: str, query: str, data) -> str | None:
    import json
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(path)
    segments = parts.path.split("/")
    if "users" in segments and segments.index("users") + 1 < len(segments):
        return unquote(segments[segments.index("users") + 1])
    params = parse_qs(query or parts.query)
    if params.get("user_id"):
        return params["user_id"][-1]
    try:
        body = json.loads(data) if data else None
    except (ValueError, TypeError):
        return None
    rows = body if isinstance(body, list) else [body]
    ids = {row.get("user_id") for row in rows if isinstance(row, dict) and isinstance(row.get("user_id"), str)}
    if isinstance(body, dict) and isinstance(body.get("user_ids"), list) and len(body["user_ids"]) == 1:
        ids.add(body["user_ids"][0])
    return ids.pop() if len(ids) == 1 else None


def make_client(name: str, scope: str, *, sign: bool = True):
    """An API client with a new token; public scopes (read, demo) sign their shopper unless sign=False."""
    from recsys.clients.services import api_client_create

    client, key = api_client_create(name=name, scope=scope)
    api = SigningAPIClient(client.signing_secret) if sign and scope in ("read", "demo") else APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


@pytest.fixture
def write_api(db):
    return make_client("test-writer", "write")


@pytest.fixture
def read_api(db):
    return make_client("test-reader", "read")


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture(autouse=True)
def _fresh_demo_mode_check():
    """The demo-mode check is cached per process; each test starts from the database's answer."""
    from recsys.storefront.selectors import demo_mode_cache_clear

    demo_mode_cache_clear()
    yield
    demo_mode_cache_clear()


@pytest.fixture(autouse=True)
def _fresh_default_cache():
    """Each test starts with an empty default cache: throttle counters and cached impact reports are keyed by
    client, user and rule ids, which the database hands out again after each test's rollback."""
    from django.core.cache import cache

    from recsys.clients.rate_budget import budgets

    cache.clear()
    budgets.clear()  # each process's leased slices of those counters
    yield


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    """Tokens are cached per process; the demo token is the same in every test (derived from SECRET_KEY)
    while its client row, and so its signing secret, is new in each."""
    from recsys.clients.auth import token_cache_clear

    token_cache_clear()
    yield
    token_cache_clear()


@pytest.fixture(autouse=True)
def _fresh_model_state():
    """The model state (active version, revisions) is cached per process by stamp, as the catalog's is; and the
    loaded model with it."""
    from recsys.serving import model_store

    model_store.reset()
    yield
    model_store.reset()


@pytest.fixture(autouse=True)
def _fresh_catalog_availability():
    """The catalog's unavailable items are cached per process by stamp; a rolled-back test's stamp row
    is gone, so the next test could see the same version number with other items."""
    from recsys.catalog import availability
    from recsys.serving import item_cards

    availability.invalidate()
    item_cards.clear_cache()  # cards of items a rolled-back test created (or found missing)
    yield
    availability.invalidate()


@pytest.fixture(autouse=True)
def _fresh_popular_rankings():
    """The popular rankings are kept per process and, once stale, refreshed by a background thread that reads
    only committed rows: each test starts without them, so its first list computes them from its own data."""
    from recsys.serving import popular

    popular.clear_cache()
    yield
    popular.clear_cache()
