"""Celery app `config`: `celery -A config worker -Q celery,training`."""
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _runtime_dirs(**kwargs):
    """A worker started first on a fresh checkout needs var/ (SQLite, the filesystem queue) as manage.py does."""
    from config.runtime_dirs import runtime_dirs_ensure

    runtime_dirs_ensure()

