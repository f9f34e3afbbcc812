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


def make_client(name: str, scope: str):
    from recsys.clients.services import api_client_create

    _, key = api_client_create(name=name, scope=scope)
    api = APIClient()
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
