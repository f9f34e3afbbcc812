"""Application errors and the API's error bodies (pure Python: no Django, no DRF).

Views and services raise these; one DRF exception handler (recsys.http.exception_handler) answers
them, and the input-guard middleware, which runs before DRF, builds its bodies with the same helpers.
The shapes are the API contract's (docs/api.md, "Errors"):

- validation errors: 400 `{"detail": "<one-line summary>", "errors": [{"index", "field", "message"}]}`
- everything else: `{"detail": "<what went wrong>"}`

`index` is the row's position in a batch (or in a list field), 0 for a one-object body, null for
query parameters; `field` is "" when the message is about the input as a whole.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypedDict


class FieldError(TypedDict):
    index: int | None
    field: str
    message: str


SUMMARY_MAX_ERRORS = 10  # a 10,000-row batch lists every bad row in `errors`, not in `detail`


def error_body(detail: str) -> dict[str, Any]:
    return {"detail": detail}


def validation_body(errors: list[FieldError], detail: str | None = None) -> dict[str, Any]:
    return {"detail": detail if detail is not None else summary(errors), "errors": errors}


def summary(errors: list[FieldError]) -> str:
    """One line: "limit: Ensure this value is less than or equal to 100.; placement: ..."."""
    parts = [f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors[:SUMMARY_MAX_ERRORS]]
    if len(errors) > SUMMARY_MAX_ERRORS:
        parts.append(f"and {len(errors) - SUMMARY_MAX_ERRORS} more (see errors)")
    return "; ".join(parts) or "Invalid input."


def field_errors(messages: Mapping[Any, Any], *, index: int | None = None,
                 rename: Mapping[str, str] | None = None, prefix: str = "") -> list[FieldError]:
    """Flatten a serializer's / model's error mapping ({field: [message, ...]}) into rows.

    A list field's per-position messages ({field: {position: [message]}}) take the position as
    their `index`; other nested mappings become dotted field names ("attributes.brand").
    `non_field_errors` and `__all__` (the whole object) become the field "".
    """
    rename = rename or {}
    rows: list[FieldError] = []
    for key, value in messages.items():
        name = rename.get(key, key)
        name = "" if name in ("non_field_errors", "__all__") else f"{prefix}{name}"
        if isinstance(value, Mapping) and value and all(isinstance(k, int) for k in value):
            for position, inner in value.items():
                rows += [FieldError(index=position, field=name, message=str(m)) for m in _as_list(inner)]
            continue
        for message in _as_list(value):
            if isinstance(message, Mapping):
                rows += field_errors(message, index=index, rename=rename, prefix=f"{name}.")
            else:
                rows.append(FieldError(index=index, field=name, message=str(message)))
    return rows


def _as_list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list | tuple) else [value]


class ApplicationError(Exception):
    """An error the API answers as `{"detail": ...}` with `status`."""

    status: ClassVar[int] = 400

    def __init__(self, detail: str, *, extra: Mapping[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.extra = dict(extra or {})  # more keys for the body, before "detail"

    def body(self) -> dict[str, Any]:
        return {**self.extra, **error_body(self.detail)}


class BadRequest(ApplicationError):
    """400 about the request as a whole (not a JSON object, an empty batch, ...)."""


class InvalidInput(ApplicationError):
    """400 naming each bad field: `{"detail": summary, "errors": [...]}`."""

    def __init__(self, errors: list[FieldError], *, detail: str | None = None):
        super().__init__(detail if detail is not None else summary(errors))
        self.errors = errors

    @classmethod
    def of(cls, messages: Mapping[Any, Any], *, index: int | None = None,
           rename: Mapping[str, str] | None = None, detail: str | None = None) -> InvalidInput:
        return cls(field_errors(messages, index=index, rename=rename), detail=detail)

    def body(self) -> dict[str, Any]:
        return validation_body(self.errors, self.detail)


class NotFound(ApplicationError):
    status = 404


class PayloadTooLarge(ApplicationError):
    """413: the request body is over the documented limit."""

    status = 413


class Conflict(ApplicationError):
    status = 409


class Unavailable(ApplicationError):
    """503: try again later; answered with `Retry-After: retry_after` (seconds)."""

    status = 503
    retry_after: ClassVar[int] = 5
