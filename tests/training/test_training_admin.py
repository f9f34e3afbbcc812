"""Admin: runs with logs, versions beside the baseline with a chart, activate/rollback, the beat schedule."""
import importlib

import pytest
from django_celery_beat.models import PeriodicTask

from recsys.models import ModelVersion, TrainingRun
from tests.factories import served_version
from tests.training.test_training_service import train
from tests.training_data import fast_training_settings, make_shop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def training_settings(settings, tmp_path):
    return fast_training_settings(settings, tmp_path, TRAINING_EXECUTOR="thread")


def test_versions_page_shows_metrics_chart_and_rolls_back(admin_client, settings):
    make_shop()
    first, second = train().model_version, train().model_version
    page = admin_client.get("/admin/recsys/modelversion/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="version-charts"' in html and html.count("<polyline") == 4
    assert f"v{first.pk}" in html and f"v{second.pk}" in html
    assert "ndcg@10 vs popularity" in html.lower() and f"{second.metrics['ndcg@10']:.4f}" in html
    assert f"vs {second.baseline_metrics['ndcg@10']:.4f}" in html
    detail = admin_client.get(f"/admin/recsys/modelversion/{first.pk}/change/").content.decode()
    assert "Activate this version (rollback)" in detail and "popularity" in detail
    response = admin_client.post(f"/admin/recsys/modelversion/{first.pk}/activate/")
    assert response.status_code == 302
    assert ModelVersion.objects.get(is_active=True).pk == first.pk
    assert served_version() == first.pk
    response = admin_client.post("/admin/recsys/modelversion/",
                                 {"action": "activate_selected", "_selected_action": [second.pk]})
    assert response.status_code == 302
    assert ModelVersion.objects.get(is_active=True).pk == second.pk


def test_runs_page_shows_progress_logs_errors_and_starts_runs(admin_client, settings):
    make_shop()
    ok = train()
    settings.TRAINING_FAIL_AT_STAGE = "fit"
    failed = train()
    listing = admin_client.get("/admin/recsys/trainingrun/").content.decode()
    assert "Start a training run" in listing and "succeeded" in listing and "failed" in listing
    detail = admin_client.get(f"/admin/recsys/trainingrun/{failed.pk}/change/").content.decode()
    assert "injected failure at stage fit" in detail
    detail = admin_client.get(f"/admin/recsys/trainingrun/{ok.pk}/change/").content.decode()
    assert "selected" in detail and "ndcg@10" in detail
    assert "best trial per kind" in detail and f"{ok.metrics['winner']['kind']} (selected)" in detail
    settings.TRAINING_FAIL_AT_STAGE = ""
    settings.TRAINING_EXECUTOR = "inline"  # queue only: nobody runs it, so the lock stays taken
    assert admin_client.post("/admin/recsys/trainingrun/start/").status_code == 302
    assert TrainingRun.objects.filter(status="queued", triggered_by="admin:admin").count() == 1


def test_nightly_schedule_exists_and_is_editable_in_admin(admin_client):
    # Transactional tests flush the migration's rows; run its (idempotent) function again.
    from django.apps import apps

    importlib.import_module("recsys.migrations.0006_training_schedules").create_schedules(apps, None)
    nightly = PeriodicTask.objects.filter(name="Nightly model training").select_related("crontab").first()
    assert nightly is not None, list(PeriodicTask.objects.values_list("name", "task"))
    assert nightly.task == "recsys.tasks.train_scheduled" and nightly.enabled
    assert (nightly.crontab.hour, nightly.crontab.minute) == ("2", "30")
    reaper = PeriodicTask.objects.filter(task="recsys.tasks.reap_lost_training_runs").select_related("interval")
    assert [t.interval.every for t in reaper] == [1]
    page = admin_client.get(f"/admin/django_celery_beat/periodictask/{nightly.pk}/change/")
    assert page.status_code == 200, page.content[:2000]
    assert b"recsys.tasks.train_scheduled" in page.content


def test_merchandisers_cannot_start_or_reap_training_runs(client, admin_client):
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.utils import timezone

    from curation.services import merchandiser_group_ensure

    user = User.objects.create_user("merch-t", password="pw", is_staff=True)
    user.groups.add(merchandiser_group_ensure())
    client.force_login(user)
    lost = TrainingRun.objects.create(status="running", heartbeat_at=timezone.now() - timedelta(hours=1))
    client.post("/admin/recsys/trainingrun/reap/")
    client.post("/admin/recsys/trainingrun/start/")
    assert TrainingRun.objects.get(pk=lost.pk).status == "running"
    assert TrainingRun.objects.count() == 1
    admin_client.post("/admin/recsys/trainingrun/reap/")  # a superuser may
    assert TrainingRun.objects.get(pk=lost.pk).status == "failed"
