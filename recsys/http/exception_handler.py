"""The API's one DRF exception handler (settings.REST_FRAMEWORK["EXCEPTION_HANDLER"]).

- `recsys.core.errors.ApplicationError` (raised by views and services): its status and body,
  `{"detail"}` or, for `InvalidInput`, `{"detail", "errors"}`.
- DRF's `ValidationError` (a serializer's `is_valid(raise_exception=True)`): `{"detail", "errors"}`,
  like `InvalidInput`.
- DRF's other exceptions (ParseError, NotAuthenticated, AuthenticationFailed, PermissionDenied,
  NotFound and Django's Http404, MethodNotAllowed, UnsupportedMediaType, Throttled, ...): DRF's
  own answer, `{"detail": ...}` with its headers (`WWW-Authenticate`, `Retry-After`).
- the database unreachable (OperationalError, InterfaceError): 503 `{"detail"}` with `Retry-After`
  (recsys.ops.db_outage), never Django's 500 page.
- anything else: None, so Django answers 500 (and logs it).
"""
from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from recsys.core.errors import ApplicationError, InvalidInput, Unavailable
from recsys.ops.db_outage import DATABASE_DOWN, database_unavailable


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, exceptions.ValidationError):
        exc = invalid_input(exc)
    if isinstance(exc, ApplicationError):
        set_rollback()
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Unavailable) else None
        return Response(exc.body(), status=exc.status, headers=headers)
    if isinstance(exc, DATABASE_DOWN):
        return database_unavailable(exc)
    response = drf_exception_handler(exc, context)
    if response is not None and not (isinstance(response.data, dict) and "detail" in response.data):
        # An APIException raised with a list or dict as its detail: still one message.
        response.data = InvalidInput.of(_as_mapping(response.data)).body()
    return response


def invalid_input(exc: exceptions.ValidationError) -> InvalidInput:
    return InvalidInput.of(_as_mapping(exc.detail))


def _as_mapping(detail: Any) -> dict:
    return detail if isinstance(detail, dict) else {"non_field_errors": detail}
