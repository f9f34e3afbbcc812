"""Drill: erasures under concurrency and failure (docs/faults.md).

- 40 `DELETE /api/v1/users/<id>/` at once across 4 gunicorn workers on PostgreSQL: all 204, none of the
  40 left in any retained artifact (ids cleared, factor rows zero), every other shopper's rows intact.
- An erasure whose model part fails (another process holds the version's lock past
  CURIO_ERASURE_LOCK_TIMEOUT): 503 with Retry-After, the receipt pending; a retried DELETE answers 204
  and finishes it; another one is finished by the periodic task.
- A merge and an erasure while a training run is between extraction and save: the new artifact maps no
  row to the wrong shopper and holds nothing of the erased one.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Count
from django.test import override_settings

from recsys.catalog.models import ErasureReceipt, Event, Shopper
from recsys.clients.services import api_client_create
from recsys.ml import artifacts
from recsys.privacy.services import erasures_finish_pending, shopper_erase, shopper_merge, user_hash
from recsys.training import services
from recsys.training.models import TrainingRun
from recsys.training.stored_versions import host_lock
from tests.drills.services import Gunicorn, call, print_figures, server_env, wait_until
from tests.factories import stored_version
from tests.processes import database_url
from tests.training_data import make_shop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_forty_concurrent_erasures_and_a_failed_model_part(require_postgres, tmp_path, settings, capsys):
    make_shop(shoppers=240, items=40, events_per_shopper=4)
    ids = [f"u{n}" for n in range(240)]
    items = [f"i{n}" for n in range(40)]
    model_dir = tmp_path / "models"
    for version in (1, 2):
        stored_version(model_dir, version, ids, items, active=version == 2)
    before = {v: (np.load(model_dir / str(v) / "user_ids.npy"), np.load(model_dir / str(v) / "user_factors.npy"))
              for v in (1, 2)}
    events_before = _events_per_shopper()
    _, token = api_client_create(name="drill", scope="write")
    env = server_env(DATABASE_URL=database_url(), MODEL_DIR=str(model_dir), SECRET_KEY=django_settings.SECRET_KEY,
                     CURIO_ERASURE_LOCK_TIMEOUT="3", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    web = Gunicorn(env, tmp_path / "gunicorn.log")
    erased = ids[:40]
    answers: dict[str, int] = {}
    try:
        web.start()
        barrier = threading.Barrier(len(erased))

        def erase(user: str) -> None:
            barrier.wait()
            answers[user] = call("DELETE", f"{web.url}/api/v1/users/{user}/", token, timeout=60)[0]

        threads = [threading.Thread(target=erase, args=(u,)) for u in erased]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)

        # The model part fails: this process holds version 2's lock longer than the erasure waits.
        with override_settings(MODEL_DIR=model_dir), host_lock(2):
            failed, body, headers = call("DELETE", f"{web.url}/api/v1/users/u200/", token)
            failed_too = call("DELETE", f"{web.url}/api/v1/users/u201/", token)[0]
        pending = ErasureReceipt.objects.get(user_hash=user_hash("u200"))
        assert pending.model_completed_at is None and not Shopper.objects.filter(user_id="u200").exists()
        retried = call("DELETE", f"{web.url}/api/v1/users/u200/", token)[0]
        again = call("DELETE", f"{web.url}/api/v1/users/u200/", token)[0]
        settings.MODEL_DIR = model_dir
        finished_by_task = erasures_finish_pending()
        status, metrics, _ = call("GET", f"{web.url}/metrics", token)
    finally:
        web.close()

    after = {v: (np.load(model_dir / str(v) / "user_ids.npy"), np.load(model_dir / str(v) / "user_factors.npy"))
             for v in (1, 2)}
    gone = set(erased) | {"u200", "u201"}
    left_in_models = sorted({u for v in (1, 2) for u in after[v][0].tolist() if u in gone})
    figures = {"concurrent_erasures": len(erased), "answers": {str(k): list(answers.values()).count(k)
                                                              for k in sorted(set(answers.values()))},
               "left_in_any_artifact": len(left_in_models),
               "failed_model_part": {"first_answer": failed, "retry_answer": retried, "next_retry": again,
                                     "finished_by_periodic_task": finished_by_task}}
    print_figures(capsys, "concurrent erasures", figures)
    assert list(answers.values()) == [204] * len(erased), answers
    assert left_in_models == []
    for v in (1, 2):
        old_ids, old_factors = before[v]
        new_ids, new_factors = after[v]
        for row, user in enumerate(old_ids.tolist()):
            if user in gone:
                assert new_ids[row] == "" and not new_factors[row].any()
            else:  # every other shopper's row intact, where it was
                assert new_ids[row] == user and np.array_equal(new_factors[row], old_factors[row])
    assert not Shopper.objects.filter(user_id__in=gone).exists()
    assert _events_per_shopper() == {u: n for u, n in events_before.items() if u not in gone}
    assert failed == 503 and "Retry-After" in headers and "DELETE" in body["detail"]
    assert failed_too == 503
    assert retried == 204 and again == 404
    assert finished_by_task == 1
    receipts = ErasureReceipt.objects.filter(user_hash__in=[user_hash(u) for u in gone])
    assert receipts.count() == len(gone) and not receipts.filter(model_completed_at__isnull=True).exists()
    assert status == 200 and "curio_erasures_pending 0.0" in metrics["_text"]


def test_a_merge_and_an_erasure_between_extraction_and_save(tmp_path, settings, capsys):
    make_shop(shoppers=300, items=120, events_per_shopper=25)
    settings.MODEL_DIR = tmp_path / "models"
    settings.TRAINING_STAGE_DELAY_SECONDS = 0.5
    run, _ = services.training_run_start(triggered_by="drill", executor="inline")
    worker = threading.Thread(target=_execute, args=(run.pk,))
    worker.start()
    try:
        before_save = TrainingRun.objects.filter(pk=run.pk).exclude(stage__in=["", "queued", "starting", "extract"])
        assert wait_until(before_save.exists, 60)  # the events are read; the artifact is not saved yet
        shopper_merge(user_id="u2", from_user_id="u1")  # a login merges session u1 into u2
        shopper_erase(user_id="u3")
    finally:
        worker.join(120)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    art = artifacts.load(run.model_version.artifact_path, mmap_mode=None)
    user_ids = art.user_ids.tolist()
    named = [u for u in user_ids if u]
    figures = {"rows": len(user_ids), "named_rows": len(named), "duplicates": len(named) - len(set(named)),
               "erased_rows_left": user_ids.count("u3")}
    print_figures(capsys, "merge and erasure during training", figures)
    assert len(named) == len(set(named))  # no row carries another shopper's id
    assert "u3" not in user_ids
    assert "u2" in user_ids


def _execute(run_id: int) -> None:
    try:
        services.training_run_execute(run_id=run_id)
    finally:
        connection.close()


def _events_per_shopper() -> dict[str, int]:
    return dict(Event.objects.values("shopper__user_id").order_by().annotate(n=Count("pk"))
                .values_list("shopper__user_id", "n"))
