"""Input guards shared by every API endpoint, so odd characters never reach the database.

PostgreSQL rejects NUL in text and nothing can encode a lone UTF-16 surrogate: both would
surface as 500s deep inside a view. JSON lets both through (`"\\u0000"`, `"\\ud800"`), and
so do URL paths and query strings (`%00`). These guards answer 400 at the door instead.
The middleware runs before DRF (so before its exception handler): it builds the same
`{"detail": ...}` body with recsys.errors.error_body.

Work per request is bounded too: a body over settings.MAX_BODY_BYTES (CURIO_MAX_BODY_BYTES, 32 MiB) is
413 (from its Content-Length at the door, or while the parser reads it), and JSON nested deeper than
settings.JSON_MAX_DEPTH (CURIO_JSON_MAX_DEPTH, 32) is 400 (Python's parser would hit its recursion limit:
a 500).
"""
from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from recsys.catalog.limits import ID_MAX_LENGTH
from recsys.errors import BadRequest, PayloadTooLarge, error_body

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_BAD_ID = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# The escapes that can produce NUL or a surrogate; without them the parsed body is clean.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
PATH_ID_KWARGS = ("user_id", "item_id")


def _find_bad_text(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        return where if _BAD_TEXT.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_bad_text(key, where) or _find_bad_text(item, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_bad_text(item, f"{where}[{index}]")
            if found:
                return found
    return None


class SafeJSONParser(JSONParser):
    """JSON, refusing NUL characters and lone surrogates anywhere in the document."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(body_too_large_message(limit))
        depth_limit = settings.JSON_MAX_DEPTH
        if raw.count(b"[") + raw.count(b"{") > depth_limit:  # cheap: only then can it be too deep
            _check_depth(raw, depth_limit)
        data = super().parse(_Replay(raw), media_type, parser_context)
        if _SUSPECT_ESCAPE.search(raw):
            where = _find_bad_text(data, "body")
            if where:
                raise ParseError(f"{where}: text must not contain NUL characters or unpaired surrogates.")
        return data


def body_too_large_message(limit: int) -> str:
    return f"The request body is larger than {limit:,} bytes (CURIO_MAX_BODY_BYTES); send smaller batches."


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")
_OPENERS = re.compile(rb"[\[{]+")


def _check_depth(raw: bytes, limit: int) -> None:
    """400 when brackets outside strings nest deeper than `limit`, checked before parsing (so a
    100,000-deep body never reaches the recursive parser), at C speed: strings dropped, only the
    brackets kept, then the innermost pairs removed `limit` times; whatever is left nests deeper."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return
        shorter = _INNERMOST.sub(b"", brackets)
        if len(shorter) == len(brackets):  # unbalanced, not JSON: deep if it opens more than `limit` in a row
            if max(map(len, _OPENERS.findall(brackets)), default=0) <= limit:
                return  # the parser says what is wrong
            break
        brackets = shorter
    if brackets:
        raise BadRequest(f"JSON nested deeper than {limit} levels (CURIO_JSON_MAX_DEPTH).")


class _Replay:
    def __init__(self, raw: bytes):
        self._raw = raw

    def read(self, *args) -> bytes:
        raw, self._raw = self._raw, b""
        return raw


def path_id_problem(value: str) -> str | None:
    if len(value) > ID_MAX_LENGTH:
        return f"is longer than {ID_MAX_LENGTH} characters"
    if _BAD_ID.search(value):
        return "must not contain control characters or unpaired surrogates"
    if not value.strip():
        return "must not be blank"
    return None


class ApiInputGuardMiddleware:
    """400 for /api/ requests whose path ids or query parameters carry characters we cannot store; 413 for a
    body over the limit; a JSON 404 for an unknown /api/ path even under DEBUG (where Django answers its HTML
    debug page instead of calling handler404)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.MAX_BODY_BYTES:
                return JsonResponse(error_body(body_too_large_message(settings.MAX_BODY_BYTES)), status=413)
            response = self.get_response(request)
            if response.status_code == 404 and response.get("Content-Type", "").startswith("text/html"):
                return api_not_found(request)
            return response
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.path.startswith("/api/"):
            return None
        for name in PATH_ID_KWARGS:
            value = view_kwargs.get(name)
            if isinstance(value, str) and (problem := path_id_problem(value)):
                return JsonResponse(error_body(f"{name} in the path {problem}."), status=400)
        for name, values in request.GET.lists():
            if any(_BAD_TEXT.search(v) for v in values) or _BAD_TEXT.search(name):
                return JsonResponse(error_body(f"query parameter {name!r} contains a NUL character."), status=400)
        return None


def api_not_found(request, exception=None):
    """JSON 404 under /api/ (frontends parse it); Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("Not found: no such API path or object."), status=404)
    return page_not_found(request, exception)
