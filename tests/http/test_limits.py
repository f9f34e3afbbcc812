"""Bounded work, clear errors: JSON depth (400), the body limit (413 JSON), a batch list's throttle cost."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings

from recsys.clients.auth import ClientRateThrottle
from tests.conftest import make_client

pytestmark = pytest.mark.django_db
EVENTS = "/api/v1/events/"


def _post_raw(api, path: str, raw: bytes):
    return api.generic("POST", path, raw, content_type="application/json")


def test_json_nested_deeper_than_the_limit_is_400_not_500(write_api, settings):
    assert settings.JSON_MAX_DEPTH == 32
    for raw in (b"[" * 100_000, b"[" * 33 + b"]" * 33, b'{"a":' * 40 + b"1" + b"}" * 40):
        response = _post_raw(write_api, EVENTS, raw)
        assert response.status_code == 400, raw[:40]
        assert "nested deeper than 32" in response.json()["detail"]
    # 32 levels, and brackets inside strings, are fine (the batch is then judged on its rows).
    ok = _post_raw(write_api, EVENTS, b"[" * 32 + b"]" * 32)
    assert ok.status_code == 400 and "nested" not in ok.json()["detail"]
    text = b'[{"user_id": "u1", "item_id": "' + b"[" * 100 + b'", "type": "view"}]'
    assert "nested" not in _post_raw(write_api, EVENTS, text).json()["detail"]


def test_a_body_over_the_limit_is_413_json(write_api, settings):
    assert settings.MAX_BODY_BYTES == 32 * 1024 * 1024
    settings.MAX_BODY_BYTES = 1000
    big = b'[{"user_id": "u1", "item_id": "' + b"x" * 2000 + b'", "type": "view"}]'
    response = _post_raw(write_api, EVENTS, big)  # Content-Length: refused at the door
    assert response.status_code == 413 and "1,000 bytes" in response.json()["detail"]
    assert response["Content-Type"] == "application/json"
    small = _post_raw(write_api, EVENTS, b"[]")
    assert small.status_code == 400  # under the limit: judged as usual


def test_a_batch_of_several_megabytes_under_the_limit_is_taken(write_api):
    """The parser reads the request's stream, not Django's `request.body` (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB,
    answered an HTML 400 to a documented batch; found by schemathesis): the API's own limit is the one that holds."""
    import json

    rows = [{"item_id": f"big-{n}", "title": "Big", "attributes": {"text": "x" * 9000}} for n in range(400)]
    body = json.dumps(rows).encode()
    assert len(body) > 3_000_000
    response = _post_raw(write_api, "/api/v1/items/", body)
    assert response.status_code == 200 and response.json() == {"created": 400, "updated": 0}, response.content[:300]


@override_settings(MAX_BODY_BYTES=1000)
def test_the_parser_also_stops_at_the_limit_without_a_content_length(write_api):
    from io import BytesIO

    from recsys.core.errors import PayloadTooLarge
    from recsys.http.guards import SafeJSONParser

    with pytest.raises(PayloadTooLarge):
        SafeJSONParser().parse(BytesIO(b"[" + b"1," * 1000 + b"1]"), "application/json", {})
    assert SafeJSONParser().parse(BytesIO(b"[1, 2]"), "application/json", {}) == [1, 2]


def test_a_batch_list_counts_as_its_number_of_shoppers(monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "10/min"})
    cache.clear()
    api = make_client("batcher", "read")
    batch = "/api/v1/recommendations/batch/"
    assert api.post(batch, {"user_ids": [f"u{n}" for n in range(6)], "limit": 2}, format="json").status_code == 200
    refused = api.post(batch, {"user_ids": [f"u{n}" for n in range(6)], "limit": 2}, format="json")
    assert refused.status_code == 429 and refused.json()["detail"]  # 6 + 6 > 10
    assert api.post(batch, {"user_ids": ["u1", "u2", "u3", "u4"], "limit": 2}, format="json").status_code == 200
    assert api.get("/api/v1/popular/").status_code == 429  # 10 used


def test_the_demo_token_has_its_own_low_rate(monkeypatch, settings):
    settings.DEMO_MODE = True
    assert settings.DEMO_THROTTLE_RATE == "300/min"
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "100/min", "demo": "2/min"})
    cache.clear()
    demo, reader = make_client("storefront-demo", "demo"), make_client("frontend", "read")
    assert [demo.get("/api/v1/popular/").status_code for _ in range(3)] == [200, 200, 429]
    assert [reader.get("/api/v1/popular/").status_code for _ in range(3)] == [200, 200, 200]
