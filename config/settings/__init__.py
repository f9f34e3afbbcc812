"""Curio's settings (DJANGO_SETTINGS_MODULE=config.settings), composed from one module per concern.

Every environment variable the application reads is read in one of these modules, each in exactly one place, and
documented in docs/operations.md (tests/ops/test_docs.py keeps that true). The modules read the environment and
name paths; they create nothing on disk (config/runtime_dirs.py does, at start) and import no domain code. They
hold production values only: the test suite's own values are in tests/settings.py.

    env            the typed readers (env_bool, env_int, env_float, env_list)
    base           Django's core: paths, DEBUG, secret key, hosts, apps, middleware chains, templates, static
    security       TLS switches, trusted origins, Content-Security-Policy, admin login lockout
    database       the database, Redis, the cache and Celery
    api            the token REST API: rates, token cache, limits, CORS, DRF, the OpenAPI schema
    ingest         items and events ingestion limits
    artifacts      the artifact store (MODEL_DIR or S3), the model poll
    training       model folder, event weights, candidates and search, gate, executor
    serving        model reload, history, caches, batch size, threads
    exploration    new items: content index, content-based similar lists, exploration slots
    curation       rule propagation, holdouts, impact verdicts
    analytics      impressions buffer and flushing, the control share
    privacy        retention and erasure
    storefront     demo mode
    suggestions    the suggestions inbox: detector thresholds
    observability  logging
"""
from .analytics import *  # noqa: F403
from .api import *  # noqa: F403
from .artifacts import *  # noqa: F403
from .base import *  # noqa: F403
from .curation import *  # noqa: F403
from .database import *  # noqa: F403
from .exploration import *  # noqa: F403
from .ingest import *  # noqa: F403
from .observability import *  # noqa: F403
from .privacy import *  # noqa: F403
from .security import *  # noqa: F403
from .serving import *  # noqa: F403
from .storefront import *  # noqa: F403
from .suggestions import *  # noqa: F403
from .training import *  # noqa: F403
