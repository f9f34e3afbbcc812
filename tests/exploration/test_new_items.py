"""New items reach shoppers before any training sees them (issue #31): the content index, content-based similar
lists, its refresh as a new revision, and the exploration slots of personal lists."""
from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from curation.models import Rule
from recsys.ingest.services import items_upsert
from recsys.ml import content
from recsys.ml.content_build import ItemText, build
from recsys.models import ModelVersion
from recsys.serving.content_lists import slot_positions
from recsys.training.content import content_refresh
from tests import serving_world
from tests.exploration import taste_shop


@pytest.fixture(autouse=True)
def serving_env(tmp_path, settings):
    settings.MODEL_DIR = tmp_path / "models"
    serving_world.reset_serving_caches()
    yield
    serving_world.reset_serving_caches()


@pytest.fixture
def shop(db, settings):
    s = taste_shop.build()
    taste_shop.train(s, settings.MODEL_DIR)
    return s


def personal(api, user_id, **params):
    response = api.get(f"/api/v1/users/{user_id}/recommendations/", params)
    assert response.status_code == 200, response.content
    return response.json()


def similar(api, item_id, **params):
    response = api.get(f"/api/v1/items/{item_id}/similar/", params)
    assert response.status_code == 200, response.content
    return response.json()


# --- the pure part ----------------------------------------------------------------------------------------------

def test_content_neighbours_share_brand_and_category_and_say_so():
    items = [ItemText("a", "Alpen trail shoe", "shoes", {"brand": "Alpen"}),
             ItemText("b", "Alpen runner", "shoes", {"brand": "Alpen"}),
             ItemText("c", "Borea trail tent", "tents", {"brand": "Borea"}),
             ItemText("d", "Copper mug", "mugs", {"brand": "Cirrus", "description": "A mug for trail coffee"})]
    index = build(items, neighbours=2)
    rows, sims = content.neighbours(index, index.row("a"), 2)
    assert index.ids[rows[0]] == "b" and sims[0] > sims[-1] > 0
    assert content.describe(content.shared_terms(index, index.row("a"), index.row("b"))) in (
        "same brand and category", "same category and brand")
    assert content.describe(content.shared_terms(index, index.row("c"), index.row("d"))) == "also “trail”"


def test_content_files_round_trip(tmp_path):
    index = build([ItemText(f"i{n}", f"thing {n % 3}", "c", {}) for n in range(6)], neighbours=3)
    content.save(tmp_path, index, np.array([1, 2], dtype=np.int32))
    loaded = content.load(tmp_path)
    assert loaded is not None and list(loaded.ids) == list(index.ids)
    assert (loaded.nn != index.nn).nnz == 0
    assert content.load_support(tmp_path, 2).tolist() == [1, 2]
    assert content.load_support(tmp_path, 3) is None  # another model's items
    (tmp_path / "content_ids.npy").write_bytes(content.to_files(build([ItemText("x", "y")]))["content_ids.npy"])
    assert content.load(tmp_path) is None  # files that do not fit together: no content lists, no error


def test_exploration_slots_sit_at_the_end_of_each_block_of_ten():
    assert slot_positions(10, 1) == [10]
    assert slot_positions(20, 1) == [10, 20]
    assert slot_positions(5, 1) == [5]
    assert slot_positions(4, 1) == []
    assert slot_positions(10, 2) == [5, 10]
    assert slot_positions(10, 0) == []


# --- similar lists ----------------------------------------------------------------------------------------------

def test_a_new_item_gets_a_content_similar_list_labelled_new_and_content(read_api, shop):
    item = shop.new[0]
    body = similar(read_api, item, limit=10)
    assert body["model_version"] == shop.model_version.pk
    items = body["items"]
    assert len(items) == 10
    content_items = [i for i in items if i["reasons"][0]["type"] == "content"]
    assert len(content_items) >= 8
    first = content_items[0]
    assert first["reasons"][0]["item_id"] == item
    assert "brand" in first["reasons"][0]["text"] or "category" in first["reasons"][0]["text"]
    # Only new items (absent from the model, young) carry source `new`; learned ones stay `model`.
    new = set(shop.new)
    assert {i["source"] for i in items if i["item_id"] in new} <= {"new"}
    assert {i["source"] for i in items if i["item_id"] not in new} <= {"model", "popular"}
    assert all(0 <= i["score"] <= 1 for i in items)


def test_an_old_unlearned_item_is_not_labelled_new(read_api, shop, settings):
    settings.EXPLORATION_MAX_AGE_DAYS = 1  # the new items are two days old
    serving_world.reset_serving_caches()
    body = similar(read_api, shop.new[0], limit=10)
    assert "new" not in {i["source"] for i in body["items"]}


def test_a_learned_item_blends_behaviour_and_content(read_api, shop):
    item = shop.old[0]  # the most popular item of its group
    items = similar(read_api, item, limit=10)["items"]
    kinds = {i["reasons"][0]["type"] for i in items}
    assert "similar" in kinds or "content" in kinds
    assert all(i["item_id"] != item for i in items)


def test_item_sent_refresh_listed(read_api, write_api, shop):
    """An item sent through the API is in similar and personal lists after the content refresh, as a new revision."""
    before = ModelVersion.objects.get(is_active=True).revision
    assert content_refresh() is None  # nothing changed since training
    title = taste_shop.Item.objects.get(item_id="g0-0").title  # a title in the group's words
    counts = items_upsert(payload=[{"item_id": "g0-launch", "title": f"{title} II",
                                    "category": "shoes", "attributes": {"brand": "Alpen", "color": "red"}}])
    assert counts.items_created == 1
    revision = content_refresh()
    assert revision == before + 1 == ModelVersion.objects.get(is_active=True).revision
    assert content_refresh() is None  # current now
    # A price or availability update is no content change: no rebuild, no new revision for every host to load.
    items_upsert(payload=[{"item_id": "g0-launch", "title": f"{title} II", "category": "shoes", "price": "19.90",
                           "attributes": {"brand": "Alpen", "color": "red"}, "available": True}])
    assert content_refresh() is None
    listed = similar(read_api, "g0-launch", limit=10)["items"]
    assert listed and listed[0]["reasons"][0]["type"] == "content"
    # Personal lists: it competes for the exploration slots of its group's fans with the group's other new items.
    explored = [i for i in personal(read_api, "g0-fan-0", limit=50)["items"] if i["source"] == "new"]
    assert len(explored) == 5 and "g0-launch" in {i["item_id"] for i in explored}



def test_one_content_refresh_at_a_time(shop):
    from django.core.cache import cache

    from recsys.training.content import REFRESH_LOCK

    items_upsert(payload=[{"item_id": "g1-launch", "title": "Trail runner", "category": "shoes"}])
    cache.add(REFRESH_LOCK, 1, timeout=60)  # another worker is building
    try:
        assert content_refresh() is None
    finally:
        cache.delete(REFRESH_LOCK)
    assert content_refresh() is not None


# --- exploration in personal lists ------------------------------------------------------------------------------

def test_one_exploration_slot_per_ten_positions_for_a_new_item_of_the_shoppers_taste(read_api, shop):
    body = personal(read_api, "g1-fan-0", limit=10)
    new = [i for i in body["items"] if i["source"] == "new"]
    assert len(new) == 1 and new[0]["rank"] == 10
    assert new[0]["item_id"] in shop.new and shop.group_of[new[0]["item_id"]] == 1
    reason = new[0]["reasons"][0]
    assert reason["type"] == "content" and reason["text"].startswith("New arrival, like ")
    assert reason["item_id"] in taste_shop.Event.objects.filter(shopper__user_id="g1-fan-0").values_list(
        "item__item_id", flat=True)
    assert sum(i["source"] == "new" for i in personal(read_api, "g1-fan-0", limit=20)["items"]) == 2


def test_no_exploration_without_consent_off_placement_or_zero_slots(read_api, shop, settings):
    settings.EXPLORATION_OFF_PLACEMENTS = frozenset({"email"})
    assert "new" not in {i["source"] for i in personal(read_api, "g1-fan-0", limit=10, placement="email")["items"]}
    assert "new" in {i["source"] for i in personal(read_api, "g1-fan-0", limit=10, placement="home")["items"]}
    settings.EXPLORATION_SLOTS = 0
    assert "new" not in {i["source"] for i in personal(read_api, "g1-fan-0", limit=10)["items"]}
    settings.EXPLORATION_SLOTS = 1
    taste_shop.Shopper.objects.filter(user_id="g1-fan-0").update(personalization_consent=False)
    assert "new" not in {i["source"] for i in personal(read_api, "g1-fan-0", limit=10)["items"]}
    assert "new" not in {i["source"] for i in personal(read_api, "never-seen", limit=10)["items"]}


def test_exploration_never_above_a_pin_and_curation_applies(read_api, shop):
    first = [i for i in personal(read_api, "g1-fan-0", limit=10)["items"] if i["source"] == "new"][0]
    Rule.objects.create(kind="pin", item_id=shop.old[-1], position=10)
    Rule.objects.create(kind="block", item_id=first["item_id"])
    serving_world.reset_serving_caches()
    items = personal(read_api, "g1-fan-0", limit=10)["items"]
    assert items[9]["source"] == "pinned"
    assert first["item_id"] not in [i["item_id"] for i in items]


def test_exploration_costs_no_round_trip_when_warm(read_api, shop):
    personal(read_api, "g1-fan-0", limit=10)  # warms the caches (impressions of new items included)
    with CaptureQueriesContext(connection) as queries:
        body = personal(read_api, "g1-fan-0", limit=10)
    assert "new" in {i["source"] for i in body["items"]}
    assert len(queries) == 1, [q["sql"][:100] for q in queries.captured_queries]


def test_new_items_with_many_impressions_make_room_for_others(shop):
    from recsys.serving import content_lists
    from recsys.serving.model_store import active_model

    view = active_model().content
    history = list(taste_shop.Event.objects.filter(shopper__user_id="g2-fan-0").values_list("item__item_id",
                                                                                            flat=True))
    import time

    now = time.time()
    first = content_lists.explore(view, history, 1, now=now, skip=set(), impressions={})[0].item_id
    again = content_lists.explore(view, history, 1, now=now, skip=set(), impressions={first: 10_000})[0].item_id
    assert again != first


# --- the measurement (issue #31): a small shop --------------------------------------------------------------------

def test_new_items_are_found_and_exploring_costs_little(shop, settings):
    on = taste_shop.personal_figures(shop)
    assert on["recall_new@10"] > 0  # (a): 0 by construction without exploration
    settings.EXPLORATION_SLOTS = 0
    off = taste_shop.personal_figures(shop)
    assert off["recall_new@10"] == 0
    assert on["ndcg@10"] >= 0.97 * off["ndcg@10"]  # (b)


def test_similar_lists_of_new_items_beat_popular_fill(shop):
    figures = taste_shop.similar_figures(shop)  # (c)
    print(figures)
    assert figures["new_items"] > 5
    assert figures["content_recall@10"] > figures["popular_recall@10"]


def test_the_impact_report_shows_exploration_as_its_own_source_with_intervals():
    from recsys.analytics.impact_stats import Cell, impact_report

    report = impact_report([Cell("model", None, 1, False, 1000, 80, 10), Cell("popular", None, 5, False, 500, 20, 2),
                            Cell("new", None, 10, False, 300, 12, 1)])
    assert [g.key for g in report.by_source] == ["model", "popular", "new"]
    new = report.by_source[-1]
    assert new.impressions == 300 and new.ctr.low < new.ctr.value < new.ctr.high


def test_the_model_card_shows_coverage_with_and_without_new_items(shop):
    from recsys.training.model_card import coverage

    figures = coverage(ModelVersion.objects.get(is_active=True))
    assert figures["catalog_items"] == 240 and figures["new_items"] == len(shop.new) == 32
    assert figures["coverage"] < figures["coverage_excluding_new"] <= 1.0
