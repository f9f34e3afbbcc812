"""Curio settings. Every environment variable is read here and nowhere else.

Variables (every one is documented in docs/operations.md): DATABASE_URL, REDIS_URL, SECRET_KEY(_FILE), DEBUG,
ALLOWED_HOSTS, MODEL_DIR, CORS_ALLOWED_ORIGINS, API_THROTTLE_RATE, the SECURE_* switches
for TLS deployments, and the CURIO_* tuning knobs below.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers as cors_default_headers
from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from recsys.ml.events import EVENT_KINDS, weight_setting_name

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # runtime files of the embedded default (SQLite, queue, models)
VAR_DIR.mkdir(exist_ok=True)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: use one of 1/true/yes/on or 0/false/no/off")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


# --- core ---------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
# No built-in fallback, DEBUG or not: the key comes from the environment or from a file (`make run` writes a
# random one to var/secret_key once, mode 600). SECRET_KEY_FILE names another file (a mounted secret).
SECRET_KEY_FILE = Path(os.environ.get("SECRET_KEY_FILE") or VAR_DIR / "secret_key")


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "").strip()
    if not key and SECRET_KEY_FILE.is_file():
        key = SECRET_KEY_FILE.read_text(encoding="utf-8").strip()
    if not key:
        raise ImproperlyConfigured(
            f"SECRET_KEY is required: export SECRET_KEY=<a long random string>, or put one in {SECRET_KEY_FILE} "
            "(`make run` creates var/secret_key once: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
TESTING = env_bool("CURIO_TESTING", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "csp",
    "axes",
    "recsys",
    "curation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on pages (CONTENT_SECURITY_POLICY below)
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "recsys.http.guards.ApiInputGuardMiddleware",
    "recsys.ops.db_outage.DatabaseOutageMiddleware",  # admin/storefront views: a DB outage is a 503 JSON
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out admin login into the lockout page (429)
]
# The token REST API (paths under API_PREFIX) runs through its own, shorter chain (config/wsgi.py):
# it has no sessions, cookies, CSRF forms, messages or admin history users, and those middlewares
# were a sixth of a list request's CPU. Security headers, CORS, slash handling and the input guard stay.
API_PREFIX = "/api/v1/"
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "recsys.http.guards.ApiInputGuardMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

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
    # A file, not :memory:, so servers and workers started by tests in other processes see it;
    # one per test process so parallel runs don't collide.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
# The serving query runs as a server-side prepared statement (planned once per connection). Turn it
# off behind a pooler that hands one client's statements to different server sessions (PgBouncer in
# transaction mode before 1.21, or without max_prepared_statements).
DB_PREPARED_STATEMENTS = env_bool("CURIO_DB_PREPARE", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
    # tasks queued by the web process reach a worker started beside it (`make run`).
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

# --- i18n, static -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- security: TLS-only settings are switched on by their own variables --------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
# Browsers calling the API from a shop's pages send the shopper's signature (docs/api.md, "Signed shoppers").
CORS_ALLOW_HEADERS = (*cors_default_headers, "curio-shopper-signature")
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp) on every page of the full chain: storefront, admin, board, preview, API
# docs. Scripts and styles come from our own static files, or carry the request's nonce (`request.csp_nonce`);
# no inline event handlers, no style attributes (but one, by hash), no eval. Images may come from any http(s)
# host: items' `image_url`s point at the shop's own image hosts. The token API (API_MIDDLEWARE) answers JSON only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        # One style attribute by exact text: django-simple-history's history page (`border-top: 0`).
        "style-src": [SELF, NONCE, UNSAFE_HASHES, "'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='"],
        "img-src": [SELF, "data:", "https:", "http:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Messages live in the session (server side), never in a cookie: the admin shows a new API token once through
# a message, and the default cookie storage would send it to the browser signed but not encrypted.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Admin login: django-axes locks a username + client address out after this many failed logins in a row
# (429, the page templates/admin/login_locked.html) for the cool-off; each failure during the lockout starts
# the cool-off again, and a successful login clears the count. Behind a reverse proxy every client has the
# proxy's address, so it works per username. Unlock early with `manage.py axes_reset_username NAME`.
# Only the admin's username/password login is watched: API tokens never go through django.contrib.auth.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before any password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("CURIO_ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("CURIO_ADMIN_LOGIN_COOLOFF_MINUTES", 15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/login_locked.html"
AXES_VERBOSE = False

# --- REST API -----------------------------------------------------------------------
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "100000/min")
# Public tokens (read, demo: they live in browsers) speak for a shopper only with a signature from the
# shop's backend (Curio-Shopper-Signature); 0 turns that off for shops that keep read tokens server-side.
SIGNED_SHOPPERS = env_bool("CURIO_SIGNED_SHOPPERS", True)
# Valid tokens are cached per process this long (a revoked token keeps working in other processes
# for at most this many seconds; 0 looks every request up in the DB).
TOKEN_CACHE_SECONDS = env_float("CURIO_TOKEN_CACHE_SECONDS", 5.0)
# The storefront demo token is public (it is in the demo page): its own, low rate (one budget for all visitors).
DEMO_THROTTLE_RATE = os.environ.get("CURIO_DEMO_THROTTLE_RATE", "300/min")
# Rates for the expensive calls, per API client on top of API_THROTTLE_RATE (recsys/clients/throttles.py;
# docs/api.md, "Rates"); an empty value turns one off. Sized for a 2-core host: a batch shopper with
# limit=100 costs ~8 ms of CPU, so 3000/min is under half a core per client.
THROTTLE_SCOPE_RATES = {
    "batch": os.environ.get("CURIO_THROTTLE_BATCH", "3000/min"),  # counted per shopper in the batch
    "export": os.environ.get("CURIO_THROTTLE_EXPORT", "30/min"),  # GET /users/<id>/data/
    "impact": os.environ.get("CURIO_THROTTLE_IMPACT", "60/min"),  # GET /curation/<kind>/<id>/impact/
    "training": os.environ.get("CURIO_THROTTLE_TRAINING", "6/hour"),  # POST /training-runs/ only
    "preview": os.environ.get("CURIO_THROTTLE_PREVIEW", "60/min"),  # the admin preview, per staff user
}
# A batch list answers at most this many items: len(user_ids) x limit (else 400).
BATCH_MAX_ITEMS = env_int("CURIO_BATCH_MAX_ITEMS", 10_000)
# An impact report is kept this long per (rule, start, end) in the Django cache (0: not cached).
IMPACT_CACHE_SECONDS = env_int("CURIO_IMPACT_CACHE_SECONDS", 30)
# Bounded work per request: API bodies over this many bytes answer 413 (a 10,000-row batch fits), and
# JSON nested deeper than this answers 400.
MAX_BODY_BYTES = env_int("CURIO_MAX_BODY_BYTES", 32 * 1024 * 1024)
# Read and demo tokens are public (they live in browsers): their bodies answer 413 over this many bytes.
PUBLIC_MAX_BODY_BYTES = env_int("CURIO_PUBLIC_MAX_BODY_BYTES", 64 * 1024)
JSON_MAX_DEPTH = env_int("CURIO_JSON_MAX_DEPTH", 32)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["recsys.clients.auth.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["recsys.clients.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["recsys.clients.auth.ClientRateThrottle",
                                 "recsys.clients.throttles.ScopedClientThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": API_THROTTLE_RATE or None, "demo": DEMO_THROTTLE_RATE or None,
                               **{scope: rate or None for scope, rate in THROTTLE_SCOPE_RATES.items()}},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["recsys.http.guards.SafeJSONParser"],
    "EXCEPTION_HANDLER": "recsys.http.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "recsys.http.schema.ApiAutoSchema",  # documents each operation's error answers
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Curio API",
    "DESCRIPTION": "Personalized recommendations with a human curator override.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The token scheme is described by recsys.clients.auth.ApiTokenScheme.
    # Requests and answers get their own components (`PinRuleRequest` has no read-only `id`, `status`, ...), so
    # generated clients never have to send what the server ignores (docs/api.md, "Generate a client").
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "recsys.training.models.TrainingRun.Status",
        "FeedbackTypeEnum": "recsys.feedback.models.FeedbackType",
        "FeedbackStatusEnum": "recsys.feedback.models.Feedback.Status",
        "EventTypeEnum": "recsys.catalog.models.EventType",
        "RuleKindEnum": "curation.models.RuleKind",
        "RuleStatusEnum": "curation.models.RuleStatus",
        "ImpactArmEnum": "recsys.analytics.models.RuleImpression.Arm",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "recsys.http.schema.postprocess"],
}

# --- Curio --------------------------------------------------------------------------
MODEL_DIR = Path(os.environ.get("MODEL_DIR") or VAR_DIR / "models")
EVENT_BATCH_LIMIT = env_int("CURIO_EVENT_BATCH_LIMIT", 10_000)
ITEM_BATCH_LIMIT = env_int("CURIO_ITEM_BATCH_LIMIT", 10_000)
# Unknown items in events are a per-row error unless this is on.
AUTO_CREATE_ITEMS = env_bool("CURIO_AUTO_CREATE_ITEMS", False)
# Events timestamped further ahead than this are refused (clock skew allowance).
EVENT_MAX_FUTURE_SECONDS = env_int("CURIO_EVENT_MAX_FUTURE_SECONDS", 300)

# --- privacy, feedback, impressions, impact (docs/privacy-and-impact.md) ---
# Events older than this are purged by the scheduled retention task; 0 keeps them forever.
EVENT_RETENTION_DAYS = env_int("CURIO_EVENT_RETENTION_DAYS", 730)
RETENTION_BATCH_SIZE = env_int("CURIO_RETENTION_BATCH_SIZE", 5000)
# An erasure waits at most this long for another erasure's lock on a model version; past it the DELETE
# answers 503 and the erasure stays pending (a retried DELETE or the periodic task finishes it).
ERASURE_LOCK_TIMEOUT = env_float("CURIO_ERASURE_LOCK_TIMEOUT", 20.0)
# Impressions are buffered in-process and written in bulk (through Redis + a Celery task
# when REDIS_URL is set); a full buffer drops new impressions rather than slow serving.
IMPRESSIONS_ENABLED = env_bool("CURIO_IMPRESSIONS", True)
IMPRESSION_FLUSH_SIZE = env_int("CURIO_IMPRESSION_FLUSH_SIZE", 1000)
IMPRESSION_FLUSH_SECONDS = env_float("CURIO_IMPRESSION_FLUSH_SECONDS", 2.0)
IMPRESSION_BUFFER_MAX = env_int("CURIO_IMPRESSION_BUFFER_MAX", 200_000)
# The Redis list of pushed batches (each up to 5 x IMPRESSION_FLUSH_SIZE rows) holds at most this many;
# beyond it new batches are dropped and counted (no worker is writing them to the database).
IMPRESSION_REDIS_MAX_BATCHES = env_int("CURIO_IMPRESSION_REDIS_MAX_BATCHES", 2000)
# Off in the test suite: rows stay buffered until a test calls flush() (no stray writes).
IMPRESSION_BACKGROUND_FLUSH = env_bool("CURIO_IMPRESSION_BACKGROUND_FLUSH", not TESTING)
# Share of shoppers (per day, stable hash) served without curation as a randomized control.
# 0 in the test suite by default, so other features' tests never meet a random control shopper.
CONTROL_SHARE = env_float("CURIO_CONTROL_SHARE", 0.0 if TESTING else 0.05)
# Training weight of interactions with pinned/boosted impressions: 1 as any other, 0 leaves them out.
PROMOTED_INTERACTION_WEIGHT = env_float("CURIO_PROMOTED_INTERACTION_WEIGHT", 0.5)
# Model card: warn when a figure worsens by more than this fraction against the previous version.
MODEL_CARD_WARN_THRESHOLD = env_float("CURIO_MODEL_CARD_WARN_THRESHOLD", 0.10)
CELERY_IMPORTS = ("recsys.training.tasks",)

# --- serving ---------------------------------------------------------------------------
# How often a serving process stat()s MODEL_DIR/ACTIVE for a newly activated version.
SERVING_MODEL_CHECK_SECONDS = env_float("CURIO_MODEL_CHECK_SECONDS", 1.0)
# Most recent events per shopper used for fold-in and explanations (keeps long histories fast).
SERVING_HISTORY_LIMIT = env_int("CURIO_HISTORY_LIMIT", 500)
# Per-process cache of item titles/urls/prices (availability is always checked fresh).
SERVING_ITEM_CACHE_SECONDS = env_float("CURIO_ITEM_CACHE_SECONDS", 300.0)
SERVING_ITEM_CACHE_SIZE = env_int("CURIO_ITEM_CACHE_SIZE", 100_000)
# Popular lists: time-decayed counts over this window, recomputed at most this often.
SERVING_POPULAR_WINDOW_DAYS = env_int("CURIO_POPULAR_WINDOW_DAYS", 30)
SERVING_POPULAR_CACHE_SECONDS = env_float("CURIO_POPULAR_CACHE_SECONDS", 300.0)
SERVING_BATCH_LIMIT = env_int("CURIO_BATCH_LIMIT", 1000)
# BLAS/implicit threads per web process: requests are the parallelism, not matrix ops.
SERVING_NUM_THREADS = env_int("CURIO_SERVING_NUM_THREADS", 1)

# --- training (docs/training.md) ----------------------------------------------------------
# Confidence per event type; a rating counts only at or above the threshold.
TRAINING_EVENT_WEIGHTS = {kind.name: env_float(weight_setting_name(kind.name), kind.weight) for kind in EVENT_KINDS}
TRAINING_RATING_THRESHOLD = env_float("CURIO_RATING_THRESHOLD", 4.0)
# An event this many days old counts half (0: no decay); events older than the window are left out
# (0: no window). A shop's last year is the normal input, so both default to well over a year.
TRAINING_HALF_LIFE_DAYS = env_float("CURIO_TRAINING_HALF_LIFE_DAYS", 365.0)
TRAINING_WINDOW_DAYS = env_float("CURIO_TRAINING_WINDOW_DAYS", 730.0)
# The search's starting points on every run (JSON list of {"kind": als|bm25|cosine|ease|rp3beta|random, params}),
# tried in this order after the last run's best: the strong and cheap ones first (ALS fits cost the most).
TRAINING_CANDIDATES = json.loads(os.environ.get("CURIO_TRAINING_CANDIDATES") or json.dumps([
    {"kind": "ease", "lambda": 200.0, "K": 200},
    {"kind": "rp3beta", "alpha": 0.8, "beta": 0.4, "K": 200, "binary": True},
    {"kind": "bm25", "K": 100, "K1": 0.9, "B": 0.4},
    {"kind": "bm25", "K": 50, "K1": 1.2, "B": 0.75},
    {"kind": "als", "factors": 64, "regularization": 0.05, "alpha": 2.0, "iterations": 15},
    {"kind": "als", "factors": 64, "regularization": 1.0, "alpha": 10.0, "iterations": 15},
    {"kind": "cosine", "K": 100},
]))
# Model selection runs on a shopper subsample with fewer ALS iterations, scored on a sample of
# the holdout shoppers; the winner is then fitted with its full parameters.
TRAINING_SELECTION_USERS = env_int("CURIO_TRAINING_SELECTION_USERS", 40_000)
TRAINING_SELECTION_EVAL_USERS = env_int("CURIO_TRAINING_SELECTION_EVAL_USERS", 3_000)
TRAINING_SELECTION_ITERATIONS = env_int("CURIO_TRAINING_SELECTION_ITERATIONS", 6)
# Candidates are compared on this many user-disjoint folds of the selection shoppers (mean, spread).
TRAINING_SELECTION_FOLDS = max(3, env_int("CURIO_TRAINING_SELECTION_FOLDS", 3))
# Every run searches each kind's space (seeded, after the starting points) for this long; 0: the
# starting points only. Sized so the 200k x 50k x 3M benchmark run stays within 3x one raw ALS fit.
TRAINING_SEARCH_SECONDS = env_float("CURIO_TRAINING_SEARCH_SECONDS", 15.0)
# EASE is dense in the catalog size (3 n x n float64 arrays, an n^3 inverse per fit): larger
# catalogs skip it (logged). 5,000 items: ~0.6 GB and a few seconds per fit on 2 cores.
TRAINING_EASE_MAX_ITEMS = env_int("CURIO_EASE_MAX_ITEMS", 5_000)
TRAINING_EVAL_USERS = env_int("CURIO_TRAINING_EVAL_USERS", 10_000)
TRAINING_HOLDOUT_FRACTION = env_float("CURIO_TRAINING_HOLDOUT_FRACTION", 0.2)
TRAINING_SEED = env_int("CURIO_TRAINING_SEED", 42)
# ALS refit on all data continues from the holdout fit for this many iterations.
TRAINING_REFIT_ITERATIONS = env_int("CURIO_TRAINING_REFIT_ITERATIONS", 3)
TRAINING_SIMILAR_ITEMS = env_int("CURIO_TRAINING_SIMILAR_ITEMS", 50)
# Promotion gate: nDCG@10 must beat random and popularity (and the active version, if on) by this.
TRAINING_GATE_MARGIN = env_float("CURIO_TRAINING_GATE_MARGIN", 0.05)
TRAINING_GATE_VS_ACTIVE = env_bool("CURIO_TRAINING_GATE_VS_ACTIVE", False)
TRAINING_RETAIN_VERSIONS = env_int("CURIO_TRAINING_RETAIN_VERSIONS", 5)
TRAINING_NUM_THREADS = env_int("CURIO_TRAINING_NUM_THREADS", os.cpu_count() or 1)
TRAINING_USE_GPU = env_bool("CURIO_TRAINING_USE_GPU", False)
# The running worker writes a heartbeat this often; a run without one for TIMEOUT is "worker lost".
TRAINING_HEARTBEAT_SECONDS = env_float("CURIO_TRAINING_HEARTBEAT_SECONDS", 5.0)
TRAINING_HEARTBEAT_TIMEOUT = env_float("CURIO_TRAINING_HEARTBEAT_TIMEOUT", 120.0)
# A queued run nobody picked up within this many seconds is failed, freeing the lock.
TRAINING_QUEUE_TIMEOUT = env_float("CURIO_TRAINING_QUEUE_TIMEOUT", 3600.0)
TRAINING_TIME_LIMIT = env_int("CURIO_TRAINING_TIME_LIMIT", 4 * 3600)
# Where POST /api/v1/training-runs/ runs training: "celery" (the `training` queue; default with
# REDIS_URL) or "thread" (a background thread of the web process; default without Redis).
TRAINING_EXECUTOR = os.environ.get("CURIO_TRAINING_EXECUTOR") or ("celery" if REDIS_URL else "thread")
# Test hooks: fail with an error at this stage / sleep this long in every stage (keep unset).
TRAINING_FAIL_AT_STAGE = os.environ.get("CURIO_TRAINING_FAIL_AT_STAGE", "")
TRAINING_STAGE_DELAY_SECONDS = env_float("CURIO_TRAINING_STAGE_DELAY_SECONDS", 0.0)

# --- curation (docs/curation.md) ------------------------------------------------------
# How often a serving process looks at the rules stamp (Redis key, or a DB row without Redis).
# Worst-case visibility of a rule change is this plus one reload, so keep it under 1 s.
CURATION_RULES_CHECK_SECONDS = env_float("CURIO_CURATION_CHECK_SECONDS", 0.5)
# Share of shoppers held out of a new pin, boost or annotation when the request gives no holdout_share
# (0 to 0.5; 0 keeps every rule on for everyone, as before per-rule holdouts existed).
RULE_HOLDOUT_SHARE = env_float("CURIO_RULE_HOLDOUT_SHARE", 0.0)
if not 0.0 <= RULE_HOLDOUT_SHARE <= 0.5:
    raise ImproperlyConfigured(f"CURIO_RULE_HOLDOUT_SHARE={RULE_HOLDOUT_SHARE}: give a share between 0 and 0.5")
# Per-rule impact: the smallest relative CTR change worth detecting (0.2 = 20%). It sets the planned
# sample size per arm (95% confidence, 80% power); no verdict is given before both arms reach it.
RULE_MDE = env_float("CURIO_RULE_MDE", 0.2)
# False-discovery rate across rules with a verdict (Benjamini-Hochberg).
RULE_FDR = env_float("CURIO_RULE_FDR", 0.05)

# --- storefront demo (docs/demo.md) ----------------------------------------------
# "auto": / is the demo storefront when the demo shop is loaded (`manage.py demo`), else a landing
# page; 1/0 force demo mode on/off. Demo mode hands the page a demo-scope token (lists, events and
# feedback of demo shoppers only) and shows the merchandiser's demo login.
_demo_mode = os.environ.get("CURIO_DEMO_MODE", "").strip().lower()
DEMO_MODE = "auto" if _demo_mode in {"", "auto"} else env_bool("CURIO_DEMO_MODE")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
