"""The database (DATABASE_URL) and Redis (REDIS_URL): Django's cache and Celery's broker, queues and routes."""
import os

import dj_database_url
from redis.backoff import NoBackoff
from redis.retry import Retry

from .base import VAR_DIR
from .env import env_bool, env_float

# --- database -----------------------------------------------------------------------
# Default: a SQLite file in the project, so a new user needs no server.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
# No per-request health check: it costs a `SELECT 1` round trip at the start of every request, and
# Django already closes a connection that broke during a request when the request ends.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=False)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside a writer; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on the busy timeout instead of failing with "database is locked".
    # Connections are kept (per thread) as on PostgreSQL: opening one per request was a sixth of a popular
    # list's worker time on the embedded default.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# The serving query runs as a server-side prepared statement (planned once per connection). Turn it
# off behind a pooler that hands one client's statements to different server sessions (PgBouncer in
# transaction mode before 1.21, or without max_prepared_statements).
DB_PREPARED_STATEMENTS = env_bool("CURIO_DB_PREPARE", True)

# --- redis, cache, celery -----------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
# Redis is optional at run time too (docs/operations.md, "Faults"): short socket timeouts, no client-side
# retry loop, and a per-process circuit that tries a Redis found down again every this many seconds.
REDIS_CONNECT_TIMEOUT = env_float("CURIO_REDIS_CONNECT_TIMEOUT", 0.25)
REDIS_SOCKET_TIMEOUT = env_float("CURIO_REDIS_SOCKET_TIMEOUT", 0.5)
REDIS_RETRY_SECONDS = env_float("CURIO_REDIS_RETRY_SECONDS", 3.0)
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache, missing through (reads miss, writes are skipped) while Redis is down.
            "BACKEND": "recsys.ops.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "curio",
            "OPTIONS": {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT, "socket_timeout": REDIS_SOCKET_TIMEOUT,
                        "retry": Retry(NoBackoff(), 0)},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1.0}
else:
    # No Redis anywhere: per-process cache; Celery uses Kombu's filesystem transport so
    # tasks queued by the web process reach a worker started beside it (`celery -A config worker`).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    _queue_dir = VAR_DIR / "celery-queue"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {"recsys.tasks.train_model": {"queue": "training"},
                      "recsys.tasks.train_scheduled": {"queue": "training"},
                      "recsys.tasks.tune_model": {"queue": "training"}}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_IMPORTS = ("recsys.training.tasks",)
