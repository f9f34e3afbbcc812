"""The folders the settings name and the embedded default writes to, made at start rather than by importing the
settings: var/ (SQLite files, the secret key, models), Celery's filesystem queue folders and STATIC_ROOT (so
WhiteNoise has a folder to serve before the first collectstatic). Called by manage.py, config/wsgi.py,
config/asgi.py, the Celery worker (config/celery.py) and the test run (tests/conftest.py); `make run` makes var/
too (the secret key's folder)."""
from pathlib import Path


def runtime_dirs_ensure() -> None:
    from django.conf import settings

    # Without Redis, Celery's filesystem transport needs its queue folders before the first task is sent.
    broker_folders = [v for k, v in getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).items()
                      if k in ("data_folder_in", "data_folder_out", "processed_folder")]
    for folder in (settings.VAR_DIR, settings.STATIC_ROOT, *broker_folders):
        Path(folder).mkdir(parents=True, exist_ok=True)
