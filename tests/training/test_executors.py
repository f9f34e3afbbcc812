"""The one dispatch of training and tuning runs: Celery tasks sent by name (routed to the
`training` queue), threads, inline; and the services no longer import the tasks module."""
import ast
import threading
from pathlib import Path

import pytest

from config.celery import app
from recsys.models import TrainingRun
from recsys.training import executors, services

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(executors.celery_app, "send_task",
                        lambda name, args=None, **options: calls.append((name, args, options)))
    return calls


def test_task_names_are_the_registered_tasks_and_route_to_the_training_queue():
    import recsys.training.tasks as tasks

    assert (tasks.train_model.name, tasks.tune_model.name) == (executors.TRAIN_TASK, executors.TUNE_TASK)
    for name in (executors.TRAIN_TASK, executors.TUNE_TASK):
        assert app.amqp.router.route({}, name)["queue"].name == "training"


@pytest.mark.django_db
def test_celery_training_and_tuning_runs_are_sent_by_name(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run, created = services.training_run_start(triggered_by="test", executor="celery")
    assert created and sent == [(executors.TRAIN_TASK, [run.pk], {"retry": False})]
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.FAILED, lock=None)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tune, created = services.training_tune_start(triggered_by="test", budget_fits=5, executor="celery")
    assert created and sent == [(executors.TUNE_TASK, [tune.pk, 5], {"retry": False})]
    assert TrainingRun.objects.get(pk=tune.pk).params == {"mode": "tuning", "budget_fits": 5}


@pytest.mark.django_db
def test_a_broker_that_refuses_runs_the_tuning_run_in_a_thread(monkeypatch, django_capture_on_commit_callbacks):
    def refuse(*args, **kwargs):
        raise ConnectionError("no broker")

    threads = []
    monkeypatch.setattr(executors.celery_app, "send_task", refuse)
    monkeypatch.setattr(executors, "start_thread", lambda *, run_id, target: threads.append(run_id))
    with django_capture_on_commit_callbacks(execute=True):
        run, _ = services.training_tune_start(triggered_by="test", budget_fits=5, executor="celery")
    run.refresh_from_db()
    assert threads == [run.pk]  # Redis down: the run is not failed, it runs in this process
    assert run.status == TrainingRun.Status.QUEUED and run.lock is not None


def test_thread_and_inline_executors(sent, monkeypatch):
    closed, done = [], threading.Event()
    class Connection:  # the thread's own connection (django.db.connection is per thread)
        def close(self):
            closed.append(True)

    monkeypatch.setattr(executors, "connection", Connection())
    executors.run_dispatch(run_id=1, executor="thread", task=executors.TRAIN_TASK, args=[1], target=done.set)
    assert done.wait(5)
    for thread in threading.enumerate():
        if thread.name == "training-1":
            thread.join(5)
    assert closed == [True]
    executors.run_dispatch(run_id=1, executor="inline", task=executors.TRAIN_TASK, args=[1],
                           target=lambda: pytest.fail("inline runs are the caller's"))
    with pytest.raises(ValueError, match="unknown TRAINING_EXECUTOR"):
        executors.run_dispatch(run_id=1, executor="cron", task=executors.TRAIN_TASK, args=[1], target=done.set)
    assert sent == []


def test_no_services_executors_or_pipeline_module_imports_a_tasks_module():
    for name in ("services", "executors", "pipeline", "progress", "versions"):
        tree = ast.parse((ROOT / "recsys" / "training" / f"{name}.py").read_text())
        imported = {f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else alias.name
                    for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom) for alias in node.names}
        assert not {m for m in imported if "tasks" in m.split(".")}, name
