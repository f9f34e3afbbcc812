"""Trust features end to end through serving and training: consent, "not interested",
impressions from served lists, attribution, the control share, erasure then retraining,
promoted interactions down-weighted."""
from __future__ import annotations

import numpy as np
import pytest
from django.utils import timezone

from curation.services import rule_create
from recsys.analytics import impression_buffer
from recsys.analytics.impression_buffer import ImpressionBuffer
from recsys.analytics.selectors import attribution_counts
from recsys.ml import artifacts, matrix
from recsys.models import ErasureReceipt, Impression, ModelVersion, Shopper
from recsys.privacy.services import shopper_erase
from recsys.training import selectors, stored_versions
from recsys.training.selectors import downweight_promoted
from tests import serving_world
from tests.factories import event, impression, items, stored_version, write_artifact

USER = "books-fan-0"


@pytest.fixture(autouse=True)
def serving_env(tmp_path, settings, monkeypatch):
    settings.MODEL_DIR = tmp_path / "models"
    settings.CONTROL_SHARE = 0.0
    serving_world.reset_serving_caches()
    buf = ImpressionBuffer()
    monkeypatch.setattr(impression_buffer, "_buffer", buf)
    yield buf
    serving_world.reset_serving_caches()


@pytest.fixture
def als(db, settings):
    serving_world.build_shop()
    return serving_world.train_and_activate(settings.MODEL_DIR)


def personal(api, user_id=USER, **params):
    r = api.get(f"/api/v1/users/{user_id}/recommendations/", params)
    assert r.status_code == 200, r.content
    return r.json()


def ids(body):
    return [i["item_id"] for i in body["items"]]


def matrix_user_ids() -> set[str]:
    """The shoppers of the matrix training would build now, through training's own selectors."""
    config = matrix.WeightConfig()
    users, items_, weights, _ = selectors.event_arrays(config=config, now=timezone.now())
    data = matrix.build_interactions(users, items_, weights, negatives=selectors.negative_interactions())
    return set(selectors.shopper_ids(data.user_pks).tolist())


# --- consent ------------------------------------------------------------------------------------
def test_consent_off_serves_non_personal_lists_and_on_restores_them(write_api, read_api, als):
    before = personal(read_api)
    assert any(i["source"] == "model" for i in before["items"]) and before["model_version"] == als.pk
    assert any(r["type"] == "history" for i in before["items"] for r in i["reasons"])

    assert write_api.patch(f"/api/v1/users/{USER}/", {"personalization_consent": False},
                           format="json").status_code == 200
    off = personal(read_api)
    assert off["items"] and {i["source"] for i in off["items"]} <= {"popular", "pinned", "boosted"}
    assert not any(r["type"] == "history" for i in off["items"] for r in i["reasons"])
    assert USER not in matrix_user_ids()  # left out of the next training

    write_api.patch(f"/api/v1/users/{USER}/", {"personalization_consent": True}, format="json")
    on = personal(read_api)
    assert any(i["source"] == "model" for i in on["items"])
    assert USER in matrix_user_ids()


# --- not interested -----------------------------------------------------------------------------
def test_not_interested_leaves_the_next_list_and_is_negative_in_training(write_api, read_api, als):
    first = ids(personal(read_api))[0]
    r = write_api.post(f"/api/v1/users/{USER}/feedback/", {"item_id": first, "type": "not_interested"},
                       format="json")
    assert r.status_code == 201
    after = personal(read_api)
    assert first not in ids(after) and len(after["items"]) == len(ids(personal(read_api)))
    # Other shoppers still get it.
    assert first in ids(personal(read_api, "books-fan-1", include_seen="true", limit=30))
    # A pin cannot bring it back either.
    rule_create(kind="pin", data={"item_id": first, "position": 1}, actor="test")
    assert first not in ids(personal(read_api))
    # Training: the shopper's cell for that item is removed.
    serving_world.add_events(USER, [first], "purchase")
    config = matrix.WeightConfig()
    users, items_, weights, _ = selectors.event_arrays(config=config, now=timezone.now())
    data = matrix.build_interactions(users, items_, weights, negatives=selectors.negative_interactions())
    row = int(np.searchsorted(data.user_pks, Shopper.objects.get(user_id=USER).pk))
    col_ids = selectors.item_ids(data.item_pks).tolist()
    assert first in col_ids and data.matrix[row, col_ids.index(first)] == 0


# --- impressions, attribution ---------------------------------------------------------------------
def test_served_lists_become_impressions_and_events_are_attributed(write_api, read_api, als, serving_env):
    pinned_item = "garden-3"
    rule = rule_create(kind="pin", data={"item_id": pinned_item, "position": 2}, actor="test")
    body = personal(read_api, placement="home")
    assert body["items"][1]["item_id"] == pinned_item and body["items"][1]["source"] == "pinned"
    pop = read_api.get("/api/v1/popular/", {"placement": "email", "limit": 3}).json()
    assert Impression.objects.count() == 0  # nothing written while serving
    assert serving_env.flush() == len(body["items"]) + 3

    rows = list(Impression.objects.filter(recommendation_id=body["recommendation_id"]).order_by("position")
                .select_related("item"))
    assert [r.item.item_id for r in rows] == ids(body)
    assert [r.source for r in rows] == [i["source"] for i in body["items"]]
    assert rows[1].rule_id == rule.pk and rows[0].rule_id is None
    assert {(r.placement, r.list_type, r.user_id, r.model_version, r.is_control) for r in rows} == {
        ("home", "personal", USER, als.pk, False)}
    pop_rows = Impression.objects.filter(recommendation_id=pop["recommendation_id"])
    assert pop_rows.count() == 3 and {r.list_type for r in pop_rows} == {"popular"}

    rec = body["recommendation_id"]
    events = [{"user_id": USER, "item_id": pinned_item, "type": "click", "recommendation_id": rec},
              {"user_id": USER, "item_id": pinned_item, "type": "purchase",
               "recommendation_id": body["recommendation_id"]},
              {"user_id": USER, "item_id": ids(body)[0], "type": "add_to_cart",
               "recommendation_id": body["recommendation_id"]},
              {"user_id": USER, "item_id": "games-1", "type": "click", "recommendation_id": body["recommendation_id"]}]
    assert write_api.post("/api/v1/events/", events, format="json").status_code == 200
    now = timezone.now()
    span = {"start": now - timezone.timedelta(hours=1), "end": now + timezone.timedelta(hours=1)}
    assert attribution_counts(**span) == {"click": 1, "add_to_cart": 1, "purchase": 1}  # games-1 was not shown
    assert attribution_counts(**span, placement="email") == {"click": 0, "add_to_cart": 0, "purchase": 0}


# --- control share ----------------------------------------------------------------------------------
def test_control_traffic_is_served_without_curation_but_keeps_blocks(read_api, als, settings, serving_env):
    curated = personal(read_api)
    blocked = ids(curated)[0]
    rule_create(kind="block", data={"item_id": blocked}, actor="test")
    rule_create(kind="pin", data={"item_id": "garden-3", "position": 1}, actor="test")
    rule_create(kind="annotation", data={"item_id": "garden-3", "label": "Staff pick"}, actor="test")
    with_rules = personal(read_api)
    assert with_rules["items"][0]["item_id"] == "garden-3" and blocked not in ids(with_rules)

    settings.CONTROL_SHARE = 1.0
    control = personal(read_api)
    assert "garden-3" not in ids(control)[:1]
    assert {i["source"] for i in control["items"]} <= {"model", "popular"}
    assert not any(i["annotations"] for i in control["items"])
    assert blocked not in ids(control)  # blocks are never withheld
    serving_env.flush()
    flags = dict(Impression.objects.values_list("recommendation_id", "is_control").distinct())
    assert flags[control["recommendation_id"]] is True and flags[with_rules["recommendation_id"]] is False


def test_control_share_splits_shoppers_stably(read_api, als, settings, serving_env):
    settings.CONTROL_SHARE = 0.5
    users = [f"{c}-fan-{s}" for c in serving_world.CATEGORIES for s in range(12)]
    for u in users:
        personal(read_api, u)
        personal(read_api, u)
    serving_env.flush()
    per_user = {}
    for u, flag in Impression.objects.values_list("user_id", "is_control"):
        per_user.setdefault(u, set()).add(flag)
    assert all(len(flags) == 1 for flags in per_user.values())  # same draw for both requests of a day
    share = sum(flags == {True} for flags in per_user.values()) / len(per_user)
    assert 0.2 < share < 0.8


# --- erasure then retraining -------------------------------------------------------------------------
def test_erased_shopper_is_new_everywhere_and_absent_from_retraining(write_api, read_api, als, settings,
                                                                    serving_env):
    served_before = personal(read_api)["recommendation_id"]
    assert USER in set(artifacts.load(als.artifact_path).user_ids.tolist())
    assert write_api.delete(f"/api/v1/users/{USER}/").status_code == 204
    loaded = artifacts.load(als.artifact_path)
    assert USER not in set(loaded.user_ids.tolist())
    # Served as a new shopper: the same list an unknown shopper gets.
    assert ids(personal(read_api)) == ids(personal(read_api, "never-seen-before"))
    serving_env.flush()
    assert not Impression.objects.filter(recommendation_id=served_before).exists()  # in flight at erasure: dropped
    assert Impression.objects.filter(user_id=USER).exists()  # served after the erasure: new data
    # Retraining: not in the matrix, not in the new artifact.
    assert USER not in matrix_user_ids()
    retrained = serving_world.train_and_activate(settings.MODEL_DIR)
    assert USER not in set(artifacts.load(retrained.artifact_path).user_ids.tolist())


def test_a_training_that_read_data_before_an_erasure_is_scrubbed(db, tmp_path, settings):
    settings.MODEL_DIR = tmp_path
    since = timezone.now()
    event("u1", "a")
    write_artifact(tmp_path, 5, ["u0", "u1"], ["a"])
    assert stored_versions.scrub_erased(tmp_path / "5", since=since) == 0
    shopper_erase(user_id="u1")  # erased after `since` (while "training" ran)
    ErasureReceipt.objects.update(created_at=timezone.now())
    write_artifact(tmp_path, 6, ["u1", "u2"], ["a"])  # the run's artifact, written after the erasure
    assert stored_versions.scrub_erased(tmp_path / "6", since=since) == 1
    loaded = artifacts.load(tmp_path / "6", mmap_mode=None)
    assert list(loaded.user_ids) == ["", "u2"] and not loaded.user_factors[0].any()
    # An erasure that commits while the new version is being stored (the erasure saw only stored versions):
    # scrubbed once more through the store, as a new revision.
    stored_version(tmp_path, 7, ["u1", "u3"], ["a"])
    assert stored_versions.scrub_erased_stored(7, since=since) == {"7": 1}
    assert ModelVersion.objects.get(pk=7).revision == 1
    assert list(artifacts.load(tmp_path / "7", mmap_mode=None).user_ids) == ["", "u3"]


# --- promoted interactions in training ---------------------------------------------------------------
@pytest.mark.parametrize("factor, expected_ratio", [(0.5, 0.5), (0.0, 0.0), (1.0, 1.0)])
def test_interactions_from_pinned_or_boosted_impressions_are_down_weighted(db, settings, factor, expected_ratio):
    settings.PROMOTED_INTERACTION_WEIGHT = factor
    items("a", "b", "c")
    impression("u1", "a", rec="r1", position=1, source="pinned", rule_id=1)
    impression("u1", "b", rec="r1", position=2, source="model")
    impression("u1", "c", rec="r1", position=3, source="boosted", rule_id=2)
    event("u1", "a", "purchase", recommendation_id="r1")  # from a pin
    event("u1", "b", "purchase", recommendation_id="r1")  # organic (model-placed)
    event("u1", "c", "purchase", recommendation_id="r1")  # from a boost
    event("u1", "c", "purchase")  # the same item bought again, not from a list
    event("u2", "a", "purchase")
    now = timezone.now()
    config = matrix.WeightConfig(half_life_days=0)
    users, items_, weights, _ = selectors.event_arrays(config=config, now=now)
    data = matrix.build_interactions(users, items_, weights)
    data = downweight_promoted(data, config=config, now=now)
    m = data.matrix.toarray()
    row = int(np.searchsorted(data.user_pks, Shopper.objects.get(user_id="u1").pk))
    cols = selectors.item_ids(data.item_pks).tolist()
    a, b, c = (m[row, cols.index(i)] for i in ("a", "b", "c"))
    purchase = config.weights["purchase"]
    assert b == pytest.approx(purchase)
    assert a == pytest.approx(expected_ratio * purchase)
    assert c == pytest.approx(purchase + expected_ratio * purchase)
    other = int(np.searchsorted(data.user_pks, Shopper.objects.get(user_id="u2").pk))
    assert m[other, cols.index("a")] == pytest.approx(purchase)
