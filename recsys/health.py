"""Liveness and readiness probes (no token: load balancers call them)."""
import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from recsys.ml.artifacts import read_active_stamp
from recsys.serving.model_store import active_model


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    components = {"db": _check_db(), "redis": _check_redis(), "model": _check_model()}
    ok = all(c["status"] in ("ok", "disabled", "none", "degraded") for c in components.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "components": components}, status=200 if ok else 503)


def _check_db() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return {"status": "error", "detail": str(exc)[:200]}


def _check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"status": "disabled", "detail": "REDIS_URL unset: embedded mode"}
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).ping()
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001
        return {"status": "error", "detail": str(exc)[:200]}


def _check_model() -> dict:
    """What this process serves: the version named by MODEL_DIR/ACTIVE, as the model store loaded it.
    A stamp whose artifact cannot be loaded is "degraded" but ready: popular lists are served."""
    stamped = read_active_stamp(settings.MODEL_DIR)
    if stamped is None:
        return {"status": "none", "detail": "no active model: popular lists are served"}
    model = active_model()
    if model is None:
        return {"status": "degraded", "version": stamped,
                "detail": f"active version {stamped} could not be loaded (see the log): popular lists are served"}
    return {"status": "ok", "version": model.version, "kind": model.kind}
