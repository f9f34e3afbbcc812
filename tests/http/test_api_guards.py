"""Odd characters and over-long ids get a 400 at every door, never a 500 (PostgreSQL rejects NUL)."""
import json

import pytest

from recsys.models import Item, Shopper

pytestmark = pytest.mark.django_db

PATH_ENDPOINTS = [
    ("get", "/api/v1/users/{}/recommendations/"),
    ("patch", "/api/v1/users/{}/"),
    ("delete", "/api/v1/users/{}/"),
    ("get", "/api/v1/users/{}/data/"),
    ("post", "/api/v1/users/{}/feedback/"),
    ("post", "/api/v1/users/{}/merge/"),
    ("get", "/api/v1/items/{}/"),
    ("get", "/api/v1/items/{}/similar/"),
]
BAD_IDS = ["a%00b", "x" * 300, "a%0Ab"]


@pytest.mark.parametrize("method,path", PATH_ENDPOINTS)
@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_bad_path_ids_are_400_with_a_message(write_api, method, path, bad_id):
    response = getattr(write_api, method)(path.format(bad_id), {}, format="json")
    assert response.status_code == 400, response.content
    assert "in the path" in response.json()["detail"]
    assert not Shopper.objects.exists()


def _post_raw(api, path: str, body: str):
    return api.generic("POST", path, body.encode(), content_type="application/json")


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\udfff"])
def test_nul_and_lone_surrogates_in_bodies_are_400(write_api, escape):
    items = f'[{{"item_id": "i1", "title": "bad{escape}title"}}]'
    response = _post_raw(write_api, "/api/v1/items/", items)
    assert response.status_code == 400
    assert "body[0].title" in response.json()["detail"]
    attrs = f'[{{"item_id": "i1", "title": "t", "attributes": {{"brand": "a{escape}"}}}}]'
    assert _post_raw(write_api, "/api/v1/items/", attrs).status_code == 400
    events = f'[{{"user_id": "u{escape}", "item_id": "i1", "type": "view"}}]'
    assert _post_raw(write_api, "/api/v1/events/", events).status_code == 400
    pin = f'{{"item_id": "i1", "position": 1, "segment": {{"user_ids": ["a{escape}"]}}}}'
    assert _post_raw(write_api, "/api/v1/curation/pins/", pin).status_code == 400
    assert not Item.objects.exists()


def test_escaped_surrogate_pairs_and_plain_unicode_pass(write_api):
    body = json.dumps([{"item_id": "i1", "title": "Tasse \U0001F600 café"}])  # ensure_ascii: a surrogate pair
    assert "\\ud83d" in body
    response = _post_raw(write_api, "/api/v1/items/", body)
    assert response.status_code == 200, response.content
    assert Item.objects.get(item_id="i1").title == "Tasse \U0001F600 café"


def test_nul_in_query_parameters_is_400(read_api):
    response = read_api.get("/api/v1/curation/pins/?placement=a%00b")
    assert response.status_code == 400
    assert "placement" in response.json()["detail"]


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_paths_answer_json_404(read_api, settings, debug):
    settings.DEBUG = debug  # under DEBUG Django's HTML debug page would answer (handler404 is not called)
    response = read_api.get("/api/v1/curation/pins/abc/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Not found")
