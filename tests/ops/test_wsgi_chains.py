"""config.wsgi: the token API runs through settings.API_MIDDLEWARE, everything else through MIDDLEWARE.

The test client builds its own handler from MIDDLEWARE, so these tests call the real WSGI
application with raw environs, as gunicorn does.
"""
from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.core import signals
from django.db import close_old_connections
from django.test import override_settings

from config.wsgi import application
from recsys.clients.services import api_client_create


@pytest.fixture(autouse=True)
def keep_test_connection():
    """As Django's test client does: a request must not close the test's database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def call(path: str, *, method: str = "GET", query: str = "", headers: dict | None = None):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "QUERY_STRING": query,
               "SERVER_NAME": "testserver", "HTTP_HOST": "testserver", "wsgi.input": io.BytesIO(b"")}
    environ.update(headers or {})
    setup_testing_defaults(environ)
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = response_headers

    chunks = application(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return started["status"], started["headers"], body


def header_values(headers, name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://shop.example"])
def test_api_requests_keep_security_cors_and_auth_without_cookies():
    _, key = api_client_create(name="wsgi-chain", scope="read")
    status, headers, body = call("/api/v1/popular/", query="limit=3", headers={
        "HTTP_AUTHORIZATION": f"Token {key}", "HTTP_ORIGIN": "https://shop.example"})
    assert status == 200 and "items" in json.loads(body)
    assert header_values(headers, "X-Content-Type-Options") == ["nosniff"]
    assert header_values(headers, "Access-Control-Allow-Origin") == ["https://shop.example"]
    assert header_values(headers, "Set-Cookie") == [] and header_values(headers, "X-Frame-Options") == []

    status, _, body = call("/api/v1/popular/")
    assert status == 401 and "detail" in json.loads(body)
    status, _, body = call("/api/v1/users/a\x00b/recommendations/", headers={"HTTP_AUTHORIZATION": f"Token {key}"})
    assert status == 400  # the input guard is in the API chain too


@pytest.mark.django_db
def test_other_paths_keep_the_full_chain():
    status, headers, _ = call("/admin/login/")
    assert status == 200
    assert any("csrftoken=" in v for v in header_values(headers, "Set-Cookie"))
    assert header_values(headers, "X-Frame-Options") == ["DENY"]


def call_with(handler, path: str, *, method: str = "GET", query: str = "", headers: dict | None = None,
              body: bytes = b""):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "QUERY_STRING": query, "SERVER_NAME": "testserver",
               "HTTP_HOST": "testserver", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "application/json"}
    environ.update(headers or {})
    setup_testing_defaults(environ)
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = int(status.split()[0])

    chunks = handler(environ, start_response)
    try:
        out = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return started["status"], json.loads(out) if out else None


@pytest.mark.django_db
def test_the_lean_api_chain_answers_as_the_full_chain_does():
    """The lean chain is a fast path of the full one: for API requests both give the same answers."""
    _, read_key = api_client_create(name="wsgi-read", scope="read")
    _, write_key = api_client_create(name="wsgi-write", scope="write")
    read, write = {"HTTP_AUTHORIZATION": f"Token {read_key}"}, {"HTTP_AUTHORIZATION": f"Token {write_key}"}

    def items(chain: str) -> bytes:  # each chain writes its own items, so both answers say "created"
        rows = [{"item_id": f"{chain}-1", "title": "One"}, {"item_id": f"{chain}-2", "title": "Two"}]
        return json.dumps(rows).encode()

    requests = [
        ("/api/v1/popular/", "GET", "limit=3", read, b""),
        ("/api/v1/popular/", "GET", "", {}, b""),  # 401
        ("/api/v1/popular/", "GET", "limit=0", read, b""),  # 400
        ("/api/v1/items/", "POST", "", read, items),  # 403
        ("/api/v1/items/", "POST", "", write, items),
        ("/api/v1/items/{chain}-1/", "GET", "", read, b""),
        ("/api/v1/items/nope/", "GET", "", read, b""),  # 404
        ("/api/v1/no-such-path/", "GET", "", read, b""),  # 404 JSON
        ("/api/v1/users/a\x00b/recommendations/", "GET", "", read, b""),  # the input guard
        ("/api/v1/users/u1/recommendations/", "GET", "limit=2", read, b""),
    ]
    for path, method, query, headers, body in requests:
        answers = []
        for chain, handler in (("lean", application.api_handler), ("full", application.full_handler)):
            answer = call_with(handler, path.format(chain=chain), method=method, query=query, headers=headers,
                               body=body(chain) if callable(body) else body)
            answers.append(answer)
        lean, full = answers
        for answer in answers:
            if isinstance(answer[1], dict):
                for minted in ("recommendation_id", "created_at", "updated_at"):  # differ per response by design
                    answer[1].pop(minted, None)
                if answer[1].get("item_id", "").startswith(("lean-", "full-")):
                    answer[1]["item_id"] = answer[1]["item_id"].split("-", 1)[1]
        assert lean == full, (method, path, query)
