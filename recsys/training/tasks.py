"""Celery tasks for training: thin wrappers around recsys.training.services.

`train_model` and `train_scheduled` run on the `training` queue (CELERY_TASK_ROUTES), ack late, and retries only on
transient DB/broker errors before the run is claimed; once claimed, a failure is recorded on the
run instead. A redelivered message finds the run no longer queued and does nothing.
recsys.training.executors sends train_model and tune_model by these names (TRAIN_TASK, TUNE_TASK),
so the services never import this module.
"""
from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError

from recsys.training import services
from recsys.training.content import content_refresh
from recsys.training.lease import training_runs_reap_lost

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@worker_ready.connect
def _follow_the_artifact_store(**kwargs):
    """With object storage, the worker keeps its host's cache at the store's revisions too (a thread in its main
    process): an erasure's new revision replaces a version this host trained, and nothing older lingers there."""
    from recsys.training.stored_versions import cache_syncer

    cache_syncer.start()


@shared_task(name="recsys.tasks.train_model", acks_late=True, autoretry_for=TRANSIENT, retry_backoff=5,
             max_retries=3, soft_time_limit=settings.TRAINING_TIME_LIMIT,
             time_limit=settings.TRAINING_TIME_LIMIT + 120)
def train_model(run_id: int) -> str | None:
    run = services.training_run_execute(run_id=run_id)
    return run.status if run else None


@shared_task(name="recsys.tasks.train_scheduled", acks_late=True, autoretry_for=TRANSIENT,
             retry_backoff=5, max_retries=3, soft_time_limit=settings.TRAINING_TIME_LIMIT,
             time_limit=settings.TRAINING_TIME_LIMIT + 120)
def train_scheduled() -> str | None:
    """The nightly beat entry (django-celery-beat, editable in the admin): start a run here."""
    run, created = services.training_run_start(triggered_by="schedule", executor="inline")
    if not created:
        return f"skipped: run {run.pk} is {run.status}"
    done = services.training_run_execute(run_id=run.pk)
    return done.status if done else None


@shared_task(name="recsys.tasks.tune_model", acks_late=True, autoretry_for=TRANSIENT, retry_backoff=5,
             max_retries=3, soft_time_limit=settings.TRAINING_TIME_LIMIT,
             time_limit=settings.TRAINING_TIME_LIMIT + 120)
def tune_model(run_id: int, budget_fits: int) -> str | None:
    """The optional tuning search (routed to the `training` queue)."""
    run = services.training_tune_execute(run_id=run_id, budget_fits=int(budget_fits))
    return run.status if run else None


@shared_task(name="recsys.tasks.reap_lost_training_runs")
def reap_lost_training_runs() -> list[int]:
    return training_runs_reap_lost()


@shared_task(name="recsys.tasks.refresh_content", ignore_result=True, autoretry_for=TRANSIENT, retry_backoff=5,
             max_retries=3)
def refresh_content() -> int | None:
    """Every minute (beat): fold new and changed items into the active version's content index, as a new revision
    when the catalog's content moved (nothing otherwise: a read of the items' content fields, hashed, and one
    manifest read; one refresh at a time)."""
    return content_refresh()
