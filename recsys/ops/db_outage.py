"""The database unreachable: 503 JSON with Retry-After, never Django's 500 HTML page.

DRF views get this answer from the one exception handler (recsys.http.exception_handler); every other
view (admin, storefront, probes) from `DatabaseOutageMiddleware`. Connections recover by themselves:
Django marks a connection that raised as errored and closes it at the end of the request
(`close_old_connections`), so the next request opens a new one: no health-check query per request
(CONN_HEALTH_CHECKS stays off; it costs a round trip at the start of every request).
"""
from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError, connections
from django.http import JsonResponse
from rest_framework.response import Response

from recsys.core.errors import error_body
from recsys.ops import metrics

log = logging.getLogger("curio.db")
DATABASE_DOWN = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
DETAIL = "The database is unavailable; try again shortly."


def _note(exc: BaseException) -> None:
    metrics.DB_ERRORS.inc()
    log.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).strip()[:300])
    for conn in connections.all(initialized_only=True):
        # An errored connection is dropped now, not only at the request's end: the next query reconnects.
        if conn.connection is not None and not conn.in_atomic_block:
            try:
                if not conn.is_usable():
                    conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may itself fail
                pass


def database_unavailable(exc: BaseException) -> Response:
    _note(exc)
    return Response(error_body(DETAIL), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class DatabaseOutageMiddleware:
    """Outside DRF: a view that raised because the database is down answers 503 JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_DOWN):
            return None
        _note(exception)
        response = JsonResponse(error_body(DETAIL), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def server_error(request, *args, **kwargs):
    """handler500: a database outage that escaped a view (a middleware's query) is a 503 like the rest;
    any other unhandled error a JSON 500 (the traceback is in the log)."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_DOWN):
        _note(exc)
        response = JsonResponse(error_body(DETAIL), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse(error_body("Server error; it has been logged."), status=500)
