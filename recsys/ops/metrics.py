"""Curio's Prometheus metrics (GET /metrics; docs/operations.md, "Metrics").

With PROMETHEUS_MULTIPROC_DIR set (config/gunicorn.conf.py sets and empties it), every process writes
its samples to files there and /metrics adds the processes up (prometheus-client's multiprocess mode);
without it, /metrics shows the answering process only. Figures that live in the database (pending
erasures, training runs and their durations) are read from it when /metrics is scraped, so they are
right whichever process (web, Celery worker) did the work.
"""
from __future__ import annotations

import os

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # a process started outside gunicorn (manage.py, Celery)
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import Counter, Gauge, Histogram  # noqa: E402 - reads the directory at import

LISTS_SERVED = Counter("curio_lists_served", "Lists served, by endpoint (list type) and source "
                       "(model: at least one model item; popular; empty).", ["endpoint", "source"])
LIST_LATENCY = Histogram("curio_list_latency_seconds", "Time to build a list response (batch: the whole batch).",
                         ["endpoint"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
EVENTS_STORED = Counter("curio_events_stored", "Events stored (new rows; duplicates not counted).")
IMPRESSIONS_BUFFERED = Counter("curio_impressions_buffered", "Impression rows taken into a process's buffer.")
IMPRESSIONS_FLUSHED = Counter("curio_impressions_flushed", "Impression rows written to the database.")
IMPRESSIONS_DROPPED = Counter("curio_impressions_dropped", "Impression rows dropped (a full buffer or Redis list).",
                              ["where"])
IMPRESSION_BUFFER_ROWS = Gauge("curio_impression_buffer_rows", "Rows waiting in the processes' buffers.",
                               multiprocess_mode="livesum")
REDIS_ERRORS = Counter("curio_redis_errors", "Redis calls that failed with a connection error or timeout.")
DB_ERRORS = Counter("curio_db_errors", "Requests answered 503 because the database was unavailable.")

_list_children: dict[tuple[str, str], object] = {}
_latency_children: dict[str, object] = {}


def list_served(endpoint: str, source: str, seconds: float) -> None:
    """One list (or batch) served: the counter and the latency, label children cached (cheap per request)."""
    child = _list_children.get((endpoint, source))
    if child is None:
        child = _list_children[(endpoint, source)] = LISTS_SERVED.labels(endpoint, source)
    child.inc()
    timer = _latency_children.get(endpoint)
    if timer is None:
        timer = _latency_children[endpoint] = LIST_LATENCY.labels(endpoint)
    timer.observe(seconds)

# The model store (recsys.training.stored_versions): what each host fetched from the artifact store and keeps.
ARTIFACT_DOWNLOADS = Counter("curio_artifact_downloads", "Version files fetched from the artifact store.")
ARTIFACT_DOWNLOAD_BYTES = Counter("curio_artifact_download_bytes", "Bytes of version files fetched.")
ARTIFACT_DOWNLOAD_SECONDS = Counter("curio_artifact_download_seconds", "Time spent fetching version files.")
ARTIFACT_UPLOAD_BYTES = Counter("curio_artifact_upload_bytes", "Bytes of new versions put into the artifact store.")
MODEL_CACHE_VERSIONS = Gauge("curio_model_cache_versions", "Versions in this host's MODEL_DIR cache.",
                             multiprocess_mode="livemax")
MODEL_VIEW_CONFIRMED = Gauge("curio_model_view_confirmed_timestamp_seconds",
                             "When the process that looked longest ago last confirmed the active version and "
                             "revision (unix time; the view's age is time() minus this).", multiprocess_mode="livemin")
