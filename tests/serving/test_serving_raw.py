"""`raw=true`: the algorithm's list beside the curated one (filters and blocks, no other curation rules)."""
from __future__ import annotations

import pytest

from recsys.analytics import impression_buffer
from recsys.analytics.impression_buffer import ImpressionBuffer
from recsys.catalog.services import items_availability_set
from recsys.models import Feedback, FeedbackType, Item, Shopper
from tests import serving_world
from tests.conftest import make_client

USER = "games-fan-3"


@pytest.fixture(autouse=True)
def serving_env(tmp_path, settings, monkeypatch):
    settings.MODEL_DIR = tmp_path / "models"
    serving_world.reset_serving_caches()
    buf = ImpressionBuffer()
    monkeypatch.setattr(impression_buffer, "_buffer", buf)
    yield buf
    buf.close()
    serving_world.reset_serving_caches()


@pytest.fixture
def als(db, settings):
    serving_world.build_shop()
    return serving_world.train_and_activate(settings.MODEL_DIR)


def ids(body: dict) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def get(api, path: str, **params) -> dict:
    response = api.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def personal(api, **params) -> dict:
    return get(api, f"/api/v1/users/{USER}/recommendations/", limit=8, **params)


def curate(write_api, items: list[str]) -> None:
    """Block the first item, pin the fifth first, annotate the second."""
    for path, body in (("blocks", {"item_id": items[0]}), ("pins", {"item_id": items[4], "position": 1}),
                       ("annotations", {"item_id": items[1], "label": "Staff pick"})):
        assert write_api.post(f"/api/v1/curation/{path}/", body, format="json").status_code == 201


def test_raw_personal_list_ignores_rules_but_keeps_filters(read_api, write_api, als, serving_env):
    before = personal(read_api)
    assert "raw" not in before
    curate(write_api, ids(before))
    curated = personal(read_api)
    assert ids(curated)[0] == ids(before)[4] and ids(before)[0] not in ids(curated)
    buffered = serving_env.stats()["buffered"]

    raw = personal(read_api, raw="true")
    assert raw["raw"] is True and raw["model_version"] == als.pk
    assert ids(before)[0] not in ids(raw)  # blocks apply to raw lists too (safety, for every token)
    assert ids(raw)[:7] == ids(before)[1:] and len(ids(raw)) == 8  # no pin, no annotation, refilled
    assert all(i["annotations"] == [] and i["source"] == "model" for i in raw["items"])
    assert serving_env.stats()["buffered"] == buffered  # a comparison view, not an impression

    # Filters stay: seen items, unavailable items, "not interested", the category.
    seen = set(Shopper.objects.get(user_id=USER).events.values_list("item__item_id", flat=True))
    assert not set(ids(raw)) & seen
    items_availability_set(item_pks=[Item.objects.get(item_id=ids(before)[2]).pk], available=False)
    Feedback.objects.create(shopper=Shopper.objects.get(user_id=USER), item=Item.objects.get(item_id=ids(before)[3]),
                            type=FeedbackType.NOT_INTERESTED)
    raw = personal(read_api, raw="true")
    assert len(raw["items"]) == 8 and not {ids(before)[2], ids(before)[3]} & set(ids(raw))
    garden = personal(read_api, raw="true", category="garden")
    assert {i["category"] for i in garden["items"]} == {"garden"}


def test_raw_on_similar_popular_and_basket(read_api, write_api, als):
    item = serving_world.item_id("books", 0)
    similar_path = f"/api/v1/items/{item}/similar/"
    lists = {
        "similar": lambda **p: get(read_api, similar_path, limit=6, **p),
        "popular": lambda **p: get(read_api, "/api/v1/popular/", limit=6, **p),
        "basket": lambda **p: read_api.post("/api/v1/recommendations/basket/",
                                            {"item_ids": [item], "limit": 6, **p}, format="json").json(),
    }
    before = {name: ids(fn()) for name, fn in lists.items()}
    for name in lists:
        response = write_api.post("/api/v1/curation/blocks/", {"item_id": before[name][0]}, format="json")
        assert response.status_code == 201
    for name, fn in lists.items():
        assert before[name][0] not in ids(fn()), name
        raw = fn(raw=True) if name == "basket" else fn(raw="true")
        blocked = {first for first, *_ in before.values()}  # blocks apply to raw lists too
        kept = [i for i in before[name] if i not in blocked]
        assert raw["raw"] is True and not blocked & set(ids(raw)) and ids(raw)[:len(kept)] == kept, name
        assert item not in ids(raw)  # the context item stays excluded


def test_raw_false_is_the_curated_list_and_bad_values_are_400(read_api, write_api, als):
    before = personal(read_api)
    curate(write_api, ids(before))
    assert ids(personal(read_api, raw="false")) == ids(personal(read_api))
    response = read_api.get(f"/api/v1/users/{USER}/recommendations/", {"raw": "maybe"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "raw"


def test_demo_tokens_may_ask_for_raw_lists_of_demo_shoppers(als, settings):
    settings.DEMO_MODE = True
    demo = make_client("storefront-demo", "demo")
    body = get(demo, "/api/v1/users/demo-anna/recommendations/", raw="true", limit=4)
    assert body["raw"] is True and len(body["items"]) == 4
    basket = demo.post("/api/v1/recommendations/basket/",
                       {"item_ids": [serving_world.item_id("books", 0)], "raw": True, "user_id": "demo-anna"},
                       format="json")
    assert basket.status_code == 200 and basket.json()["raw"] is True
    assert demo.get("/api/v1/users/bench-1/recommendations/", {"raw": "true"}).status_code == 403


def test_blocks_apply_to_raw_lists_for_every_token(read_api, write_api, als, settings):
    settings.DEMO_MODE = True
    demo = make_client("storefront-demo", "demo")
    before = ids(personal(read_api, raw="true"))
    blocked_category = Item.objects.get(item_id=before[1]).category
    for body in ({"item_id": before[0]}, {"item_category": blocked_category}):
        assert write_api.post("/api/v1/curation/blocks/", body, format="json").status_code == 201
    assert write_api.post("/api/v1/curation/pins/", {"item_id": before[5], "position": 1},
                          format="json").status_code == 201
    for api, user in ((read_api, USER), (write_api, USER), (demo, "demo-anna")):
        raw = get(api, f"/api/v1/users/{user}/recommendations/", raw="true", limit=8)
        assert raw["raw"] is True and raw["items"], user
        assert before[0] not in ids(raw) and blocked_category not in {i["category"] for i in raw["items"]}
        assert all(i["source"] != "pinned" for i in raw["items"])  # other rules stay off
