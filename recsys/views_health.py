"""Liveness and readiness probes (no token: load balancers call them)."""
from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    components = {"db": _check_db(), "redis": _check_redis(), "model": _check_model()}
    ok = all(c["status"] in ("ok", "disabled", "none") for c in components.values())
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
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).ping()
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001
        return {"status": "error", "detail": str(exc)[:200]}


def _check_model() -> dict:
    from .models import ModelVersion

    try:
        active = ModelVersion.objects.filter(is_active=True).values("pk", "kind").first()
    except Exception as exc:  # noqa: BLE001
        return {"status": "error", "detail": str(exc)[:200]}
    if active is None:
        return {"status": "none", "detail": "no active model: popular lists are served"}
    return {"status": "ok", "version": active["pk"], "kind": active["kind"]}
