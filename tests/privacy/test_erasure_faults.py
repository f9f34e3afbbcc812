"""Erasure under failure, in process: a model part that cannot take a version's lock stays pending and is
finished by a retried DELETE or the periodic task; listed-shopper segments (and their audit rows) and
aliases go with the shopper. tests/drills/test_concurrent_erasure.py runs the concurrent case for real."""
from __future__ import annotations

import numpy as np
import pytest

from curation.models import Rule
from recsys.catalog.models import ErasureReceipt, ShopperAlias
from recsys.privacy.services import erasures_finish_pending, shopper_merge, user_hash
from recsys.training.stored_versions import host_lock
from tests.factories import event, items, stored_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.MODEL_DIR = tmp_path
    settings.ERASURE_LOCK_TIMEOUT = 0.2
    stored_version(tmp_path, 1, ["u1", "u2", "anon-1"], ["a", "b"], active=True)
    return tmp_path


def ids(model_dir) -> list[str]:
    return np.load(model_dir / "1" / "user_ids.npy").tolist()


def test_a_failed_model_part_is_pending_and_a_retry_finishes_it(model_dir, write_api):
    items("a", "b")
    event("u1", "a")
    with host_lock(1):  # another erasure holds the version
        response = write_api.delete("/api/v1/users/u1/")
    assert response.status_code == 503 and response["Retry-After"] and "DELETE" in response.json()["detail"]
    receipt = ErasureReceipt.objects.get(user_hash=user_hash("u1"))
    assert receipt.model_completed_at is None and "u1" in ids(model_dir)
    assert write_api.delete("/api/v1/users/u1/").status_code == 204  # the retry finishes it
    receipt.refresh_from_db()
    assert receipt.model_completed_at is not None and receipt.counts["model_rows"] == 1
    assert "u1" not in ids(model_dir) and "u2" in ids(model_dir)
    assert write_api.delete("/api/v1/users/u1/").status_code == 404  # nothing left at all


def test_the_periodic_task_finishes_pending_erasures_with_their_merged_ids(model_dir, write_api):
    items("a", "b")
    event("anon-1", "a")
    event("u2", "b")
    shopper_merge(user_id="u2", from_user_id="anon-1")
    with host_lock(1):
        assert write_api.delete("/api/v1/users/u2/").status_code == 503
        assert erasures_finish_pending() == 0  # still locked: still pending
    assert ErasureReceipt.objects.filter(model_completed_at__isnull=True).count() == 2  # u2 and its alias
    assert erasures_finish_pending() == 1
    assert not ErasureReceipt.objects.filter(model_completed_at__isnull=True).exists()
    assert ids(model_dir) == ["u1", "", ""]
    assert not ShopperAlias.objects.exists()


def test_erasure_takes_the_shopper_out_of_segment_lists_and_their_history(model_dir, write_api):
    items("a")
    event("u1", "a")
    created = write_api.post("/api/v1/curation/pins/", {"item_id": "a", "position": 1,
                                                        "segment": {"user_ids": ["u1", "u2"]}}, format="json")
    assert created.status_code == 201, created.json()
    assert write_api.delete("/api/v1/users/u1/").status_code == 204
    rule = Rule.objects.get(pk=created.json()["id"])
    assert rule.segment_user_ids == ["u2"]
    assert all("u1" not in (h.segment_user_ids or []) for h in rule.history.all())
    receipt = ErasureReceipt.objects.get(user_hash=user_hash("u1"))
    assert receipt.counts["segment_rules"] == 1
