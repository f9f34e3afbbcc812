"""POST/GET /api/v1/training-runs/ and POST /api/v1/model-versions/<id>/activate/ (embedded mode:
no Redis, the run happens in a background thread of the serving process)."""
import time

import pytest

from recsys.models import ModelVersion, TrainingRun
from tests.factories import served_version
from tests.training_data import fast_training_settings, make_shop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def training_settings(settings, tmp_path):
    return fast_training_settings(settings, tmp_path, TRAINING_EXECUTOR="thread")


def wait_finished(api, run_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(f"/api/v1/training-runs/{run_id}/").json()
        if body["status"] in ("succeeded", "failed", "rejected"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s: {body}")


def test_post_answers_202_at_once_and_the_run_happens(write_api, read_api, settings):
    settings.TRAINING_SEARCH_SECONDS = 0  # the two starting points on every fold: a fixed trial list
    make_shop()
    started = time.monotonic()
    response = write_api.post("/api/v1/training-runs/", {}, format="json")
    assert response.status_code == 202 and time.monotonic() - started < 2
    body = response.json()
    # The thread executor may have picked it up before the answer was written.
    assert body["status"] in ("queued", "running") and body["created"] is True
    again = write_api.post("/api/v1/training-runs/", {}, format="json").json()
    assert again["id"] == body["id"] and again["created"] is False  # one training at a time
    done = wait_finished(read_api, body["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"] == 100.0 and done["stage"] == "done"
    assert done["model_version"]["is_active"] is True
    assert done["metrics"]["model"]["ndcg@10"] > done["metrics"]["popularity"]["ndcg@10"]
    # Every trial of the selection, best first: mean and spread of nDCG@10 over the folds.
    detail = read_api.get(f"/api/v1/training-runs/{body['id']}/").json()
    trials = detail["metrics"]["selection"]
    keys = {"kind", "params", "folds", "ndcg@10", "ndcg@10_std", "seconds", "outcome", "won"}
    assert len(trials) == 2 and all(keys <= set(t) for t in trials)
    assert trials[0]["won"] and detail["metrics"]["winner"]["kind"] == trials[0]["kind"]
    assert detail["metrics"]["search"]["sample"]["shoppers"] > 0 and detail["metrics"]["search"]["stopped"]
    complete = [t for t in trials[1:] if t["folds"] == trials[0]["folds"]]  # after the winner: by mean
    assert trials[0]["folds"] >= 3 and [t["ndcg@10"] for t in complete] == sorted(
        (t["ndcg@10"] for t in complete), reverse=True)
    assert detail["model_version"]["params"]["kind"] == trials[0]["kind"] == detail["metrics"]["winner"]["kind"]
    assert "triggered_by" not in done and done["executor"] == "thread"  # read scope: no actor names
    assert write_api.get(f"/api/v1/training-runs/{body['id']}/").json()["triggered_by"] == "api:test-writer"
    listed = read_api.get("/api/v1/training-runs/").json()
    assert [r["id"] for r in listed] == [body["id"]]
    assert served_version() == done["model_version"]["id"]


def test_activate_rolls_back_and_reports_errors(write_api, read_api, settings):
    make_shop()
    ids = []
    for _ in range(2):
        run_id = write_api.post("/api/v1/training-runs/", {}, format="json").json()["id"]
        ids.append(wait_finished(read_api, run_id)["model_version"]["id"])
    response = write_api.post(f"/api/v1/model-versions/{ids[0]}/activate/")
    assert response.status_code == 200 and response.json()["is_active"] is True
    assert ModelVersion.objects.get(is_active=True).pk == ids[0]
    assert served_version() == ids[0]
    assert [v["id"] for v in read_api.get("/api/v1/model-versions/").json()] == ids[::-1]
    assert write_api.post("/api/v1/model-versions/999999/activate/").status_code == 404
    ModelVersion.objects.filter(pk=ids[1]).update(artifact_path="")
    conflict = write_api.post(f"/api/v1/model-versions/{ids[1]}/activate/")
    assert conflict.status_code == 409 and "artifact" in conflict.json()["detail"]


def test_scopes_and_unknown_runs(read_api, anon_api):
    assert anon_api.post("/api/v1/training-runs/", {}, format="json").status_code == 401
    assert read_api.post("/api/v1/training-runs/", {}, format="json").status_code == 403
    assert read_api.post("/api/v1/model-versions/1/activate/").status_code == 403
    missing = read_api.get("/api/v1/training-runs/424242/")
    assert missing.status_code == 404 and "424242" in missing.json()["detail"]
    assert not TrainingRun.objects.exists()


def test_broker_down_still_answers_202_and_runs_the_run_in_this_process(write_api, settings, monkeypatch):
    from config.celery import app
    from recsys.ops.redis_state import circuit
    from recsys.training import executors

    settings.TRAINING_EXECUTOR = "celery"
    threads = []
    monkeypatch.setattr(executors, "start_thread", lambda *, run_id, target: threads.append(run_id))
    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport_options = "redis://127.0.0.1:1/0", {}
    kombu_pools_reset(app)
    try:
        response = write_api.post("/api/v1/training-runs/", {}, format="json")
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = saved
        kombu_pools_reset(app)
        circuit.reset()
    body = response.json()
    assert response.status_code == 202 and body["status"] == "queued"
    assert threads == [body["id"]]


def kombu_pools_reset(app):
    import kombu.pools

    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def test_read_tokens_do_not_see_errors_or_workers_and_no_token_sees_server_paths(write_api, read_api):
    run = TrainingRun.objects.create(status=TrainingRun.Status.FAILED, error="Traceback: /srv/curio/secret.py",
                                     worker_host="worker-7.internal", worker_pid=4242)
    version = ModelVersion.objects.create(run=run, kind="als", artifact_path="/var/lib/curio/models/v1")
    hidden = {"error", "worker_host", "worker_pid"}
    read_run = read_api.get(f"/api/v1/training-runs/{run.pk}/").json()
    assert not hidden & set(read_run) and read_run["status"] == "failed"
    assert "artifact_path" not in read_run["model_version"] and read_run["model_version"]["id"] == version.pk
    assert not hidden & set(read_api.get("/api/v1/training-runs/").json()[0])
    assert "artifact_path" not in read_api.get("/api/v1/model-versions/").json()[0]
    write_run = write_api.get(f"/api/v1/training-runs/{run.pk}/").json()
    assert write_run["worker_host"] == "worker-7.internal" and write_run["worker_pid"] == 4242
    assert write_run["error"] == "Traceback: <path>"  # the error, without the server's paths
    assert "artifact_path" not in write_run["model_version"]  # a server path: the admin's, for staff, not the API's
    assert "/var/lib" not in str(write_api.get("/api/v1/model-versions/").json())
