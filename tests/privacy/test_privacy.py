"""Consent, export, erasure (database and every retained model version) and retention."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from django.test import override_settings

from recsys.ml import artifacts
from recsys.ml.artifact_store import local_manifest
from recsys.models import ErasureReceipt, Event, Feedback, Impression, ModelVersion, Shopper
from recsys.privacy.services import events_purge_expired, user_hash
from recsys.serving import model_store
from tests.factories import event, impression, items, served_version, stored_version

pytestmark = pytest.mark.django_db


# --- consent ------------------------------------------------------------------------------
def test_patch_consent_turns_off_and_on(write_api):
    event("u1", "a")
    r = write_api.patch("/api/v1/users/u1/", {"personalization_consent": False}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["personalization_consent"] is False
    assert Shopper.objects.get(user_id="u1").personalization_consent is False
    r = write_api.patch("/api/v1/users/u1/", {"personalization_consent": True}, format="json")
    assert r.json()["personalization_consent"] is True
    assert Shopper.objects.get(user_id="u1").personalization_consent is True


def test_patch_consent_for_unknown_shopper_keeps_the_refusal(write_api):
    r = write_api.patch("/api/v1/users/newbie/", {"personalization_consent": False}, format="json")
    assert r.status_code == 200
    assert Shopper.objects.get(user_id="newbie").personalization_consent is False


@pytest.mark.parametrize("body, field", [
    ({}, "personalization_consent"),
    ({"personalization_consent": "perhaps"}, "personalization_consent"),
    ({"personalization_consent": None}, "personalization_consent"),
])
def test_patch_consent_bad_input(write_api, body, field):
    r = write_api.patch("/api/v1/users/u1/", body, format="json")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == field
    assert not Shopper.objects.filter(user_id="u1").exists()


def test_patch_consent_refuses_non_object_and_long_ids_and_read_tokens(write_api, read_api, anon_api):
    assert write_api.patch("/api/v1/users/u1/", [1, 2], format="json").status_code == 400
    r = write_api.patch("/api/v1/users/" + "x" * 129 + "/", {"personalization_consent": False}, format="json")
    assert r.status_code == 400 and "user_id" in r.json()["detail"]
    assert read_api.patch("/api/v1/users/u1/", {"personalization_consent": False}, format="json").status_code == 403
    assert anon_api.patch("/api/v1/users/u1/", {"personalization_consent": False}, format="json").status_code == 401


# --- export -------------------------------------------------------------------------------
def test_export_returns_everything_stored(write_api):
    items("a", "b")
    event("u1", "a", "view", recommendation_id="r9")
    event("u1", "b", "purchase", value=2)
    event("other", "a")
    impression("u1", "a", rec="r9", position=3, source="pinned", rule_id=7)
    impression("other", "b")
    write_api.post("/api/v1/users/u1/feedback/", {"item_id": "b", "type": "report", "comment": "broken"},
                   format="json")
    write_api.patch("/api/v1/users/u1/", {"personalization_consent": False}, format="json")

    r = write_api.get("/api/v1/users/u1/data/")
    assert r.status_code == 200
    data = r.json()
    assert data["user_id"] == "u1"
    assert data["personalization_consent"] is False
    assert data["created_at"] and data["updated_at"]
    assert [(e["item_id"], e["type"], e["value"]) for e in data["events"]] == [
        ("a", "view", 1.0), ("b", "purchase", 2.0)]
    assert data["events"][0]["recommendation_id"] == "r9" and data["events"][0]["timestamp"]
    assert [(f["item_id"], f["type"], f["comment"]) for f in data["feedback"]] == [("b", "report", "broken")]
    assert len(data["impressions"]) == 1
    imp = data["impressions"][0]
    assert (imp["item_id"], imp["position"], imp["source"], imp["rule_id"], imp["recommendation_id"]) == (
        "a", 3, "pinned", 7, "r9")


def test_export_needs_write_scope_and_known_shopper(write_api, read_api):
    event("u1", "a")
    assert read_api.get("/api/v1/users/u1/data/").status_code == 403
    r = write_api.get("/api/v1/users/nobody/data/")
    assert r.status_code == 404 and "nobody" in r.json()["detail"]


# --- erasure ------------------------------------------------------------------------------
def test_delete_erases_database_rows_in_every_table(write_api, caplog):
    items("a", "b")
    event("u1", "a")
    event("u1", "b", "click", recommendation_id="r1")
    event("u2", "a")
    impression("u1", "a")
    impression("u2", "a")
    write_api.post("/api/v1/users/u1/feedback/", {"item_id": "a", "type": "not_interested"}, format="json")
    with caplog.at_level(logging.INFO, logger="curio.privacy"):
        r = write_api.delete("/api/v1/users/u1/")
    assert r.status_code == 204
    assert not Shopper.objects.filter(user_id="u1").exists()
    assert not Event.objects.filter(shopper__user_id="u1").exists()
    assert not Impression.objects.filter(user_id="u1").exists()
    assert not Feedback.objects.filter(shopper__user_id="u1").exists()
    assert Event.objects.filter(shopper__user_id="u2").count() == 1
    assert Impression.objects.filter(user_id="u2").count() == 1
    receipt = ErasureReceipt.objects.get()
    assert receipt.counts["events"] == 2 and receipt.counts["feedback"] == 1 and receipt.counts["impressions"] == 1
    assert receipt.user_hash == user_hash("u1") and "u1" not in receipt.user_hash
    logged = " ".join(rec.getMessage() for rec in caplog.records)
    assert "erasure receipt" in logged and "'events': 2" in logged
    assert "u1" not in logged.replace(user_hash("u1")[:16], "")
    # A second request finds nothing: the shopper is new again.
    assert write_api.delete("/api/v1/users/u1/").status_code == 404
    assert write_api.get("/api/v1/users/u1/data/").status_code == 404


def test_delete_clears_the_shopper_in_every_retained_model_version(write_api, tmp_path):
    event("u1", "a")
    with override_settings(MODEL_DIR=tmp_path):
        stored_version(tmp_path, 1, ["u0", "u1", "u2"], ["a", "b"])
        stored_version(tmp_path, 2, ["u1", "u3"], ["a", "b"], active=True)
        stored_version(tmp_path, 3, ["u5"], ["a", "b"])  # never had u1
        before = {v: artifacts.load(tmp_path / str(v), mmap_mode=None) for v in (1, 2, 3)}
        assert served_version() == 2
        assert write_api.delete("/api/v1/users/u1/").status_code == 204
        after = {v: artifacts.load(tmp_path / str(v), mmap_mode=None) for v in (1, 2, 3)}
        # The versions that held u1 have a new revision (serving reloads it); version 3 was not rewritten.
        assert dict(ModelVersion.objects.values_list("pk", "revision")) == {1: 1, 2: 1, 3: 0}
        assert served_version() == 2 and model_store.active_model().revision == 1
        assert [local_manifest(tmp_path / str(v)).revision for v in (1, 2, 3)] == [1, 1, 0]
    assert list(after[1].user_ids) == ["u0", "", "u2"]
    assert list(after[2].user_ids) == ["", "u3"]
    assert not after[1].user_factors[1].any() and not after[2].user_factors[0].any()
    # Other shoppers' rows are untouched.
    np.testing.assert_array_equal(after[1].user_factors[[0, 2]], before[1].user_factors[[0, 2]])
    np.testing.assert_array_equal(after[2].user_factors[1], before[2].user_factors[1])
    np.testing.assert_array_equal(after[3].user_factors, before[3].user_factors)
    assert not list(tmp_path.glob("*/*.tmp"))
    receipt = ErasureReceipt.objects.get()
    assert receipt.counts["model_versions"] == 2 and receipt.counts["model_rows"] == 2


def test_delete_of_a_shopper_known_only_from_impressions(write_api):
    impression("ghost", "a")
    assert write_api.delete("/api/v1/users/ghost/").status_code == 204
    assert not Impression.objects.filter(user_id="ghost").exists()


def test_delete_needs_write_scope(read_api):
    event("u1", "a")
    assert read_api.delete("/api/v1/users/u1/").status_code == 403
    assert Shopper.objects.filter(user_id="u1").exists()


# --- retention ----------------------------------------------------------------------------
def test_retention_purges_only_expired_events_in_batches(caplog):
    for i in range(7):
        event(f"u{i}", "a", days_ago=40 + i)
    for i in range(3):
        event(f"u{i}", "b", days_ago=5)
    with override_settings(EVENT_RETENTION_DAYS=30, RETENTION_BATCH_SIZE=3):
        assert events_purge_expired(max_batches=2) == 6  # two batches of three
        assert Event.objects.count() == 4
        assert events_purge_expired() == 1
    assert Event.objects.count() == 3
    assert set(Event.objects.values_list("item__item_id", flat=True)) == {"b"}


def test_retention_zero_keeps_everything():
    event("u1", "a", days_ago=5000)
    with override_settings(EVENT_RETENTION_DAYS=0):
        assert events_purge_expired() == 0
    assert Event.objects.count() == 1


def test_retention_task_is_scheduled_by_beat():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="recsys.tasks_trust.purge_expired_events")
    assert task.enabled and task.crontab is not None
    assert PeriodicTask.objects.filter(task="recsys.tasks_trust.flush_impressions", enabled=True).exists()


def test_retention_celery_task_runs_the_purge():
    from recsys.privacy.tasks import purge_expired_events

    event("u1", "a", days_ago=100)
    event("u1", "b", days_ago=1)
    with override_settings(EVENT_RETENTION_DAYS=30):
        assert purge_expired_events.apply().get() == 1
    assert list(Event.objects.values_list("item__item_id", flat=True)) == ["b"]


def test_export_and_erasure_follow_a_merged_session(write_api, tmp_path, monkeypatch):
    from recsys.analytics import impression_buffer

    items("a", "b")
    event("anon-7", "a")
    impression("anon-7", "a", rec="before-login")
    with override_settings(MODEL_DIR=tmp_path):
        stored_version(tmp_path, 1, ["anon-7", "u0"], ["a", "b"])  # trained before the login
        assert write_api.post("/api/v1/users/u1/merge/", {"from_user_id": "anon-7"}, format="json").status_code == 200
        assert Impression.objects.get(recommendation_id="before-login").user_id == "u1"
        impression("anon-7", "b", rec="in-flight")  # served to the session, written after the merge
        data = write_api.get("/api/v1/users/u1/data/").json()
        assert data["merged_ids"] == ["anon-7"]
        assert {i["recommendation_id"] for i in data["impressions"]} == {"before-login", "in-flight"}

        buffer = impression_buffer.ImpressionBuffer()
        monkeypatch.setattr(impression_buffer, "_buffer", buffer)
        impression_buffer.record_list(recommendation_id="still-buffered", user_id="anon-7",
                                      items=[{"item_id": "a", "rank": 1, "source": "model"}])
        assert write_api.delete("/api/v1/users/u1/").status_code == 204
        buffer.flush()
        after = artifacts.load(tmp_path / "1", mmap_mode=None)
    assert not Impression.objects.exists()  # both ids' rows gone, and the buffered one dropped
    assert list(after.user_ids) == ["", "u0"] and not after.user_factors[0].any()
    receipts = {r.user_hash: r.counts for r in ErasureReceipt.objects.all()}
    assert receipts[user_hash("u1")]["impressions"] == 2 and receipts[user_hash("u1")]["merged_ids"] == 1
    assert receipts[user_hash("anon-7")] == {"merged_into": user_hash("u1")}


def test_merging_a_session_that_is_someone_elses_leaves_its_impressions(write_api):
    items("a")
    event("anon-8", "a")
    assert write_api.post("/api/v1/users/u1/merge/", {"from_user_id": "anon-8"}, format="json").status_code == 200
    impression("anon-8", "a", rec="late")  # written under the session id after the first merge
    event("u2", "a")
    # A second shopper naming the same (already merged) session must not take u1's rows.
    assert write_api.post("/api/v1/users/u2/merge/", {"from_user_id": "anon-8"}, format="json").status_code == 200
    assert Impression.objects.get(recommendation_id="late").user_id == "anon-8"
    # The rightful owner repeating the merge does collect them.
    assert write_api.post("/api/v1/users/u1/merge/", {"from_user_id": "anon-8"}, format="json").status_code == 200
    assert Impression.objects.get(recommendation_id="late").user_id == "u1"


def test_merging_a_session_that_was_only_shown_lists_takes_its_impressions(write_api):
    event("u1", "a")
    impression("anon-9", "a", rec="shown")  # no events, so no Shopper row for the session
    assert write_api.post("/api/v1/users/u1/merge/", {"from_user_id": "anon-9"}, format="json").status_code == 200
    assert Impression.objects.get(recommendation_id="shown").user_id == "u1"
