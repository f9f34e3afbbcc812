"""Read tokens are public: a training run's `triggered_by` (an API client's name or `admin:<username>`) is left
out for them, on the list and the detail; write tokens keep it. Model versions carry no actor at all."""
import pytest

from recsys.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db


def test_read_scope_sees_no_triggered_by_write_scope_does(write_api, read_api):
    run = TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED, triggered_by="admin:alice")
    ModelVersion.objects.create(run=run, kind="ease", metrics={"ndcg@10": 0.2})
    for seen in (read_api.get(f"/api/v1/training-runs/{run.pk}/").json(),
                 read_api.get("/api/v1/training-runs/").json()[0]):
        assert "triggered_by" not in seen and "alice" not in str(seen)
        assert seen["id"] == run.pk and seen["status"] == "succeeded" and seen["model_version"]["kind"] == "ease"
    versions = read_api.get("/api/v1/model-versions/").json()
    assert versions and not any(key.endswith("_by") for version in versions for key in version)
    assert "alice" not in str(versions)
    for seen in (write_api.get(f"/api/v1/training-runs/{run.pk}/").json(),
                 write_api.get("/api/v1/training-runs/").json()[0]):
        assert seen["triggered_by"] == "admin:alice"
