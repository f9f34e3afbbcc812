"""Input guards shared by every API endpoint, so odd characters never reach the database.

PostgreSQL rejects NUL in text and nothing can encode a lone UTF-16 surrogate: both would
surface as 500s deep inside a view. JSON lets both through (`"\\u0000"`, `"\\ud800"`), and
so do URL paths and query strings (`%00`). These guards answer 400 at the door instead.
The middleware runs before DRF (so before its exception handler): it builds the same
`{"detail": ...}` body with recsys.core.errors.error_body.

Work per request is bounded too: a body over settings.MAX_BODY_BYTES (CURIO_MAX_BODY_BYTES, 32 MiB) is
413 (from its Content-Length at the door, or while the parser reads it), and JSON nested deeper than
settings.JSON_MAX_DEPTH (CURIO_JSON_MAX_DEPTH, 32) is 400 (Python's parser would hit its recursion limit:
a 500, or on a small thread stack a crash). Read and demo tokens are public (they live in browsers): their
bodies are capped at settings.PUBLIC_MAX_BODY_BYTES (CURIO_PUBLIC_MAX_BODY_BYTES, 64 KiB), from the
Content-Length before a byte is read, and while reading. Every step is linear in the body, whatever its
shape (tests/http/test_guard_linear.py): a handful of passes of C-speed bytes methods and the C JSON
parser, and no regular expression that can backtrack.
"""
from __future__ import annotations

import codecs
import re
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser

from recsys.core.errors import BadRequest, PayloadTooLarge, error_body
from recsys.core.limits import ID_MAX_LENGTH

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_BAD_ID = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# The escapes that can produce NUL or a surrogate; without them the parsed body is clean.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
PATH_ID_KWARGS = ("user_id", "item_id")


def _find_bad_text(value: Any, where: str) -> str | None:
    """Where the first string (key or value, in document order) holding NUL or a lone surrogate is, or None.
    Iterative, and a path is spelled out only for the string found, so the walk is linear in the document."""
    stack: list[tuple[Any, tuple | None]] = [(value, None)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if _BAD_TEXT.search(value):
                return where + _spell_path(path)
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                stack.append((item, (path, key)))
                stack.append((key, path))
        elif isinstance(value, list):
            stack.extend((value[index], (path, index)) for index in range(len(value) - 1, -1, -1))
    return None


def _spell_path(path: tuple | None) -> str:
    segments = []
    while path is not None:
        path, segment = path
        segments.append(f"[{segment}]" if isinstance(segment, int) else f".{segment}")
    return "".join(reversed(segments))


class SafeJSONParser(BaseParser):
    """JSON, refusing NUL characters and lone surrogates anywhere in the document, in time linear in the body.

    Not a JSONParser subclass: DRF (3.18) hands a JSONParser the body through Django's `request.body`, read whole
    before the limits below and refused over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) with an HTML 400, so a
    documented 3 MB batch failed (found by schemathesis). Any other parser gets the request's stream."""

    media_type = JSONParser.media_type
    renderer_class = JSONParser.renderer_class

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        limit, too_large = body_limit(request)
        if declared_length(request) > limit:
            raise PayloadTooLarge(too_large)  # before a byte is read
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(too_large)
        raw, parser_context = _as_utf8(raw, parser_context)
        depth_limit = settings.JSON_MAX_DEPTH
        if raw.count(b"[") + raw.count(b"{") > depth_limit:  # cheap: only then can it be too deep
            _check_depth(raw, depth_limit)
        try:
            data = _JSON.parse(_Replay(raw), media_type, parser_context)
        except RecursionError:  # a JSON_MAX_DEPTH above what the interpreter's recursion limit allows
            raise BadRequest(_too_deep_message(depth_limit)) from None
        if _SUSPECT_ESCAPE.search(raw):  # linear: a literal `\u`, then at most 4 characters
            where = _find_bad_text(data, "body")
            if where:
                raise ParseError(f"{where}: text must not contain NUL characters or unpaired surrogates.")
        return data


def body_too_large_message(limit: int) -> str:
    return f"The request body is larger than {limit:,} bytes (CURIO_MAX_BODY_BYTES); send smaller batches."


def public_body_too_large_message(limit: int) -> str:
    return (f"The request body is larger than {limit:,} bytes, the limit for read and demo tokens "
            "(CURIO_PUBLIC_MAX_BODY_BYTES); send smaller requests, or send large batches with a write token.")


def body_limit(request) -> tuple[int, str]:
    """The largest body this caller may send, and the 413 message: read and demo tokens are public (they
    live in browsers), so theirs is settings.PUBLIC_MAX_BODY_BYTES."""
    limit = settings.MAX_BODY_BYTES
    scope = getattr(getattr(request, "user", None), "scope", None)  # DRF has authenticated before the body
    if scope is not None and scope in _public_scopes() and settings.PUBLIC_MAX_BODY_BYTES < limit:
        return settings.PUBLIC_MAX_BODY_BYTES, public_body_too_large_message(settings.PUBLIC_MAX_BODY_BYTES)
    return limit, body_too_large_message(limit)


def _public_scopes() -> tuple[str, ...]:
    from recsys.clients.models import ApiClient  # here, not at import: the app registry is ready by now

    return ApiClient.Scope.READ, ApiClient.Scope.DEMO


def declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except (TypeError, ValueError):
        return 0


def _as_utf8(raw: bytes, parser_context: dict) -> tuple[bytes, dict]:
    """The body as UTF-8 (the byte-level checks below read ASCII brackets, quotes and backslashes)."""
    charset = parser_context.get("encoding") or settings.DEFAULT_CHARSET
    try:
        encoding = codecs.lookup(charset).name
    except LookupError:
        raise ParseError(f"Unknown charset {charset!r}; send JSON in UTF-8.") from None
    if encoding == "utf-8":
        return raw, parser_context
    try:
        raw = raw.decode(encoding).encode("utf-8")
    except UnicodeError:
        raise ParseError(f"The request body is not valid {charset}; send JSON in UTF-8.") from None
    return raw, {**parser_context, "encoding": "utf-8"}


def _too_deep_message(limit: int) -> str:
    return f"JSON nested deeper than {limit} levels (CURIO_JSON_MAX_DEPTH)."


_CHUNK = 1 << 16
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 opens, -1 closes


def _check_depth(raw: bytes, limit: int) -> None:
    """400 when brackets outside strings nest deeper than `limit`, checked before parsing: the C parser
    recurses once a level and, on a small thread stack, overflows it before Python's recursion limit
    stops it. Linear and at C speed, with no regular expression: escaped backslashes dropped, then
    escaped quotes (a run of backslashes pairs off left to right, as JSON reads it), so every quote left
    opens or closes a string; then, 64 KiB at a time, the parts between quotes that lie outside strings
    kept, only their brackets kept, and the running depth followed. For a body the parser accepts this
    is its exact depth; a broken body the parser stops reading at its first error, up to which this
    count is right, so the parser never nests deeper than this says (tests/http/test_guard_linear.py)."""
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    depth, in_string = 0, 0
    for start in range(0, len(text), _CHUNK):
        parts = text[start:start + _CHUNK].split(b'"')
        brackets = b"".join(parts[in_string::2]).translate(None, _NOT_BRACKETS)
        in_string ^= (len(parts) - 1) & 1
        if brackets:
            steps = memoryview(brackets.translate(_STEPS)).cast("b")
            if max(accumulate(steps, initial=depth)) > limit:
                raise BadRequest(_too_deep_message(limit))
            depth += sum(steps)


_JSON = JSONParser()


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
