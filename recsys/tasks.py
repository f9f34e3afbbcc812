"""Every Celery task of the app, so Celery's autodiscovery (which imports `<app>.tasks`) finds them.

The tasks live in their domains; their `name=` stays what it always was, since django-celery-beat
rows and queued messages refer to tasks by name.
"""
from recsys.analytics.tasks import flush_impressions
from recsys.privacy.tasks import finish_pending_erasures, purge_expired_events
from recsys.suggestions.tasks import run_suggestion_detectors
from recsys.training.tasks import (
    reap_lost_training_runs,
    refresh_content,
    train_model,
    train_scheduled,
    tune_model,
)

__all__ = ["finish_pending_erasures", "flush_impressions", "purge_expired_events", "reap_lost_training_runs",
           "refresh_content", "run_suggestion_detectors", "train_model", "train_scheduled", "tune_model"]
