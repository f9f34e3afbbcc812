"""Erasure against real training runs: every retained version is cleared, and a retrain never
brings the shopper back (training's own service, in this process, on the test database)."""
from __future__ import annotations

import pytest

from recsys.ml import artifacts
from recsys.models import ModelVersion, TrainingRun
from recsys.training import services
from tests.training_data import make_shop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def training_settings(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    settings.TRAINING_NUM_THREADS = 1
    settings.TRAINING_CANDIDATES = [{"kind": "als", "factors": 16, "regularization": 0.05, "alpha": 2.0,
                                     "iterations": 8}]
    settings.TRAINING_GATE_VS_ACTIVE = False
    settings.TRAINING_SIMILAR_ITEMS = 10


def train() -> TrainingRun:
    run, _ = services.training_run_start(triggered_by="test", executor="inline")
    done = services.training_run_execute(run_id=run.pk)
    assert done.status == TrainingRun.Status.SUCCEEDED, done.error
    return done


def user_ids(version: ModelVersion) -> set[str]:
    return set(artifacts.load(version.artifact_path).user_ids.tolist())


def test_erasure_clears_every_retained_version_and_retraining_leaves_the_shopper_out(write_api):
    shop = make_shop(shoppers=120, items=60, events_per_shopper=15)
    first, second = train(), train()
    versions = [first.model_version, second.model_version]
    assert all("u7" in user_ids(v) for v in versions)
    ModelVersion.objects.filter(pk=second.model_version.pk).update(is_active=False)  # one inactive, one active
    ModelVersion.objects.filter(pk=first.model_version.pk).update(is_active=True)

    assert write_api.delete("/api/v1/users/u7/").status_code == 204
    for v in versions:
        assert "u7" not in user_ids(v), f"version {v.pk} still holds the erased shopper"

    third = train()
    assert "u7" not in user_ids(third.model_version)
    assert third.data_counts["shoppers"] == shop["shoppers"] - 1
