"""Liveness and readiness probes (no token: load balancers call them).

/readyz: 200 `ok`, 200 `degraded` (Redis down, the artifact store unreachable, or the active model cannot be
loaded: lists are still served, from the model this process has or popular lists), or 503 `unavailable` only when
the database is down.
Callers never see exception text: it goes to the log.
"""
import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from recsys.ops import redis_state
from recsys.serving.model_store import active_model, loaded_model
from recsys.training import stored_versions

log = logging.getLogger("curio.health")


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    components = {"db": _check_db(), "redis": _check_redis(), "store": _check_store()}
    components["model"] = _check_model(db_up=components["db"]["status"] == "ok")
    if components["db"]["status"] != "ok":
        status = "unavailable"
    elif "down" in (components["redis"]["status"], components["store"]["status"]) \
            or components["model"]["status"] == "degraded":
        status = "degraded"
    else:
        status = "ok"
    return JsonResponse({"status": status, "components": components}, status=503 if status == "unavailable" else 200)


def _check_db() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        log.warning("readiness: database check failed: %s: %s", type(exc).__name__, exc)
        connection.close_if_unusable_or_obsolete()
        return {"status": "down", "detail": "the database is unreachable (see the log)"}


def _check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"status": "disabled", "detail": "REDIS_URL unset: embedded mode"}
    if redis_state.ping():
        return {"status": "ok"}
    return {"status": "down", "detail": "Redis is unreachable (see the log): lists are served from the database, "
                                        "impressions wait in memory, the throttle is off"}


def _check_store() -> dict:
    """With object storage: what this process's sync thread last met (no request of its own: a store that drops
    packets must not hang the probe), or one ping where no thread runs (manage.py runserver)."""
    store = stored_versions.artifact_store()
    if not stored_versions.uses_local_cache():
        return {"status": "local", "detail": "versions live in MODEL_DIR"}
    syncer = stored_versions.cache_syncer
    error = syncer.last_error if syncer.running else None
    if not syncer.running:
        try:
            store.ping()
        except stored_versions.StoreUnavailable as exc:
            error = str(exc)
    if error:
        log.warning("readiness: %s", error)
        return {"status": "down", "detail": "the artifact store is unreachable (see the log): the versions this "
                                            "host has are served, new ones wait"}
    return {"status": "ok", "url": store.url}


def _check_model(*, db_up: bool) -> dict:
    """What this process serves against the database's active version, as the model store loaded it. An active
    version that cannot be loaded (or fetched) is "degraded" but ready: the previous one or popular lists serve."""
    state = stored_versions.model_state() if db_up else None
    model = active_model() if db_up else loaded_model()  # without the database, no look at the model state
    active = state.active if state is not None else None
    if active is None and model is None:
        return {"status": "none", "detail": "no active model: popular lists are served"}
    if model is None:
        return {"status": "degraded", "version": active,
                "detail": f"active version {active} could not be loaded (see the log): popular lists are served"}
    if active is not None and (model.version, model.revision) != (active, state.active_revision):
        return {"status": "degraded", "version": model.version, "kind": model.kind, "active": active,
                "detail": f"serving version {model.version} while {active} (revision {state.active_revision}) "
                          "cannot be fetched or loaded yet (see the log)"}
    return {"status": "ok", "version": model.version, "kind": model.kind}
