"""Liveness and readiness probes (no token: load balancers call them).

/readyz: 200 `ok`, 200 `degraded` (Redis down, or the active model cannot be loaded: lists are still
served, from the database and popular lists), or 503 `unavailable` only when the database is down.
Callers never see exception text: it goes to the log.
"""
import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from recsys.ml.artifacts import read_active_stamp
from recsys.ops import redis_state
from recsys.serving.model_store import active_model
from recsys.training.versions import active_stamp_reconcile

log = logging.getLogger("curio.health")


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    components = {"db": _check_db(), "redis": _check_redis()}
    components["model"] = _check_model(db_up=components["db"]["status"] == "ok")
    if components["db"]["status"] != "ok":
        status = "unavailable"
    elif components["redis"]["status"] == "down" or components["model"]["status"] == "degraded":
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


def _check_model(*, db_up: bool) -> dict:
    """What this process serves: the version named by MODEL_DIR/ACTIVE (reconciled with the database's
    active version first), as the model store loaded it. A stamp whose artifact cannot be loaded is
    "degraded" but ready: popular lists are served."""
    if db_up:
        try:
            active_stamp_reconcile()
        except Exception as exc:  # noqa: BLE001 - readiness reports, it does not fail on the reconcile
            log.warning("readiness: ACTIVE stamp not reconciled: %s: %s", type(exc).__name__, exc)
    stamped = read_active_stamp(settings.MODEL_DIR)
    if stamped is None:
        return {"status": "none", "detail": "no active model: popular lists are served"}
    model = active_model()
    if model is None:
        return {"status": "degraded", "version": stamped,
                "detail": f"active version {stamped} could not be loaded (see the log): popular lists are served"}
    return {"status": "ok", "version": model.version, "kind": model.kind}
