"""The JSON guards in linear time, and public tokens' bodies capped (issue #25, part 1).

An attacker with the public demo token once held a worker 31 s with a 400 KB body (`[`x40, `"`, then `\\"`
repeated: the old regex pre-pass backtracked quadratically on the unterminated string) and got a 500.
Here: adversarial shapes answer 400 through the API; the parser's work is counted (never timed) and
shown linear; a property test checks the parser against json.loads; read and demo tokens' bodies are
capped at CURIO_PUBLIC_MAX_BODY_BYTES from their Content-Length, before a byte is read.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from recsys.core.errors import BadRequest, PayloadTooLarge
from recsys.http import guards
from recsys.http.guards import SafeJSONParser

EVENTS = "/api/v1/events/"
BASKET = "/api/v1/recommendations/basket/"
KB, MB = 1024, 1024 * 1024


def _repeat(head: bytes, unit: bytes, size: int, tail: bytes = b"") -> bytes:
    return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail


# Adversarial bodies of about `size` bytes: name -> (make(size), whether json.loads accepts it).
SHAPES = {
    "reported: unterminated string of escaped quotes": lambda n: _repeat(b"[" * 40 + b'"', b'\\"', n),
    "unterminated string of backslashes": lambda n: _repeat(b"[" * 40 + b'"', b"\\", n),
    "deep arrays": lambda n: b"[" * n,
    "deep objects": lambda n: _repeat(b"", b'{"a":', n),
    "balanced, too deep": lambda n: b"[" * (n // 2) + b"]" * (n // 2),
    "unbalanced closers first": lambda n: b"]" * (n // 2) + b"[" * (n // 2),
    "brackets in an unterminated string": lambda n: _repeat(b'["', b"[{", n),
    "bare quotes": lambda n: b'"' * n,
    "many short strings with escapes": lambda n: _repeat(b"[", b'"\\n\\"\\\\",', n, b'"x"]'),
    "many strings with surrogate escapes": lambda n: _repeat(b"[", b'"\\ud83d\\ude00",', n, b'"x"]'),
    "many shallow lists": lambda n: _repeat(b"[", b"[[]],", n, b"[]]"),
    "long number": lambda n: _repeat(b"[", b"1", n, b"]"),
}


def _post_raw(api, path: str, raw: bytes):
    return api.generic("POST", path, raw, content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("size", [20 * KB, MB], ids=["20KB", "1MB"])
@pytest.mark.parametrize("shape", SHAPES)
def test_adversarial_bodies_answer_400_not_500(write_api, shape, size):
    raw = SHAPES[shape](size)
    response = _post_raw(write_api, EVENTS, raw)
    assert response.status_code == 400, (shape, response.status_code)
    assert response.json()["detail"]


@pytest.mark.django_db
def test_the_reported_body_answers_that_it_is_too_deep(write_api):
    for size in (20 * KB, 40 * KB, 400 * KB, MB):
        response = _post_raw(write_api, EVENTS, SHAPES["reported: unterminated string of escaped quotes"](size))
        assert response.status_code == 400
        assert response.json()["detail"] == "JSON nested deeper than 32 levels (CURIO_JSON_MAX_DEPTH)."
    for depth in (100_000, MB):
        response = _post_raw(write_api, EVENTS, b"[" * depth)
        assert response.status_code == 400 and "nested deeper than 32" in response.json()["detail"]


def _parse(raw: bytes, context: dict | None = None):
    return SafeJSONParser().parse(BytesIO(raw), "application/json", context or {})


class _Work:
    """What the parser does, counted with a profiler instead of timed: Python and C calls, the bytes that C
    methods of bytes-like objects walk (their receiver's length: a pass over it), and the regular
    expressions it runs."""

    def __init__(self):
        self.calls = 0
        self.bytes_walked = 0
        self.patterns: set[str | bytes] = set()

    def __call__(self, frame, event, arg):
        if event == "call":
            self.calls += 1
        elif event == "c_call":
            self.calls += 1
            receiver = getattr(arg, "__self__", None)
            if isinstance(receiver, bytes | bytearray | memoryview | str):
                self.bytes_walked += len(receiver)
            elif isinstance(receiver, re.Pattern):
                self.patterns.add(receiver.pattern)


def _count_work(raw: bytes) -> _Work:
    work = _Work()
    sys.setprofile(work)
    try:
        _parse(raw)
    except (BadRequest, ParseError):
        pass
    finally:
        sys.setprofile(None)
    return work


# The only regular expressions allowed near a body: each is a literal or a character class, then at most
# a fixed number of characters (no nested or alternating repetition), so each runs in linear time.
LINEAR_PATTERNS = {guards._SUSPECT_ESCAPE.pattern, guards._BAD_TEXT.pattern, json.decoder.WHITESPACE.pattern}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_guards_work_is_linear_in_the_body(shape):
    """1 KB and 1 MB of each shape: O(1) passes over the bytes (bytes walked per byte of body bounded and
    not growing with size), calls at most linear, and no regular expression that could backtrack."""
    small, large = SHAPES[shape](KB), SHAPES[shape](MB)
    work_small, work_large = _count_work(small), _count_work(large)
    for raw, work in ((small, work_small), (large, work_large)):
        assert work.patterns <= LINEAR_PATTERNS, work.patterns - LINEAR_PATTERNS
        assert work.bytes_walked <= 12 * len(raw) + 4 * KB, (shape, len(raw), work.bytes_walked)
        assert work.calls <= len(raw) + 2_000, (shape, len(raw), work.calls)
    passes_small = work_small.bytes_walked / len(small)
    passes_large = work_large.bytes_walked / len(large)
    assert passes_large <= passes_small + 1, (shape, passes_small, passes_large)
    ratio = len(large) / len(small)
    assert work_large.calls <= 2 * ratio * work_small.calls + 2_000, (shape, work_small.calls, work_large.calls)


def test_the_old_regex_pre_pass_would_fail_the_work_count():
    """The check above catches what issue #25 found: the old pre-pass ran this backtracking pattern."""
    old = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
    work = _Work()
    sys.setprofile(work)
    try:
        old.sub(b"", SHAPES["reported: unterminated string of escaped quotes"](KB))
    finally:
        sys.setprofile(None)
    assert not work.patterns <= LINEAR_PATTERNS


def test_a_deep_body_is_refused_before_the_recursive_parser_on_a_small_thread_stack():
    """The C parser recurses once a level and stops at Python's recursion limit (1,000: about 190 KiB of C
    stack); on a smaller thread stack (musl's default is 128 KiB) it would crash the process. The guard
    refuses a 1 MB-deep body before parsing, so even a 64 KiB thread stack is enough."""
    code = """
import threading
from io import BytesIO
import django
from django.conf import settings
settings.configure(MAX_BODY_BYTES=32 * 1024 * 1024, PUBLIC_MAX_BODY_BYTES=65536, JSON_MAX_DEPTH=32)
django.setup()
from recsys.core.errors import BadRequest
from recsys.http.guards import SafeJSONParser
answers = []
def parse():
    for raw in (b"[" * 1_000_000, b'{"a":' * 200_000, b"[" * 40 + b'"' + b'\\\\"' * 200_000):
        try:
            SafeJSONParser().parse(BytesIO(raw), "application/json", {})
        except BadRequest as exc:
            answers.append(str(exc))
threading.stack_size(64 * 1024)
thread = threading.Thread(target=parse)
thread.start()
thread.join()
print(len(answers), answers[0])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "3 JSON nested deeper than 32 levels (CURIO_JSON_MAX_DEPTH)."


@override_settings(JSON_MAX_DEPTH=100_000)
def test_a_depth_limit_beyond_the_interpreters_recursion_limit_is_still_400():
    with pytest.raises(BadRequest, match="nested deeper than 100000 levels"):
        _parse(b"[" * 5_000 + b"]" * 5_000)


# --- the parser against json.loads ------------------------------------------------------------------

_TRICKY = st.text(alphabet=st.sampled_from('ab"\\[]{}/ \n\té\U0001f600\x00'), max_size=8)
_TEXT = _TRICKY | st.text(max_size=8)
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
                       max_leaves=30)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(map(_has_nul, value))
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_VALUES, limit=st.integers(min_value=0, max_value=6), ensure_ascii=st.booleans(),
       indent=st.none() | st.integers(min_value=0, max_value=2))
def test_the_parser_agrees_with_json_loads(value, limit, ensure_ascii, indent):
    """For any JSON value: 400 for depth exactly when the true depth exceeds the limit, else a NUL anywhere
    refused, else the same value json.loads gives."""
    raw = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent).encode()
    with override_settings(JSON_MAX_DEPTH=limit):
        if _depth(value) > limit:
            with pytest.raises(BadRequest, match=f"nested deeper than {limit} levels"):
                _parse(raw)
        elif _has_nul(value):
            with pytest.raises(ParseError, match="NUL characters"):
                _parse(raw)
        else:
            assert _parse(raw) == json.loads(raw)


_TOKENS = st.sampled_from(['[', ']', '{', '}', '"', '\\', '\\"', '\\\\', '"a"', '"[', ':', ',', '1', 'null', ' ',
                           '\\u0000', '\\ud800', 'x'])


@hypothesis_settings(max_examples=500, deadline=None)
@given(tokens=st.lists(_TOKENS, max_size=60), limit=st.integers(min_value=0, max_value=4))
def test_the_parser_never_fails_otherwise_on_broken_bodies(tokens, limit):
    """Random JSON-ish bytes, most of them broken: a body json.loads accepts is answered as above; any other
    body is a 400 (ParseError or BadRequest), never another exception."""
    raw = "".join(tokens).encode()
    try:
        expected = json.loads(raw)
    except ValueError:
        with override_settings(JSON_MAX_DEPTH=limit), pytest.raises((ParseError, BadRequest)):
            _parse(raw)
        return
    with override_settings(JSON_MAX_DEPTH=limit):
        if _depth(expected) > limit:
            with pytest.raises(BadRequest):
                _parse(raw)
        else:
            try:
                assert _parse(raw) == expected
            except ParseError as exc:
                assert "NUL characters or unpaired surrogates" in str(exc)


def test_bad_text_is_found_where_it_is_however_wide_the_document():
    body = {"rows": [{"ok": "x"}] * 3 + [{"k": ["a", "b\x00"]}], "\ud800": 1}
    assert guards._find_bad_text(body, "body") == "body.rows[3].k[1]"
    assert guards._find_bad_text({"a": 1, "\ud800": 2}, "body") == "body"
    wide = {"k" * 30_000: list(range(20_000)) + ["\x00"]}  # paths are spelled only for what is found
    assert guards._find_bad_text(wide, "body") == f"body.{'k' * 30_000}[20000]"


def test_a_body_in_another_charset_is_checked_as_utf8():
    raw = json.dumps({"a": ["\x00"]}).encode("utf-16")
    with pytest.raises(ParseError, match=r"body.a\[0\]: text must not contain NUL"):
        _parse(raw, {"encoding": "utf-16"})
    assert _parse('{"é": [1]}'.encode("latin-1"), {"encoding": "latin-1"}) == {"é": [1]}
    with pytest.raises(ParseError, match="Unknown charset"):
        _parse(b"[]", {"encoding": "no-such-charset"})
    with pytest.raises(ParseError, match="not valid utf-16"):
        _parse(b"[1]", {"encoding": "utf-16"})


# --- public scopes' bodies -----------------------------------------------------------------------------

def _basket_body(size: int) -> bytes:
    ids = [f"sku-{n:06d}" for n in range(size // 14)]
    return json.dumps({"item_ids": ids}).encode()


@pytest.mark.django_db
def test_a_read_token_body_over_64_kib_is_413_and_a_write_token_is_not_refused_for_size(read_api, write_api,
                                                                                          settings):
    assert settings.PUBLIC_MAX_BODY_BYTES == 64 * KB
    raw = _basket_body(70 * KB)
    assert len(raw) > 64 * KB
    refused = _post_raw(read_api, BASKET, raw)
    assert refused.status_code == 413
    assert "65,536 bytes" in refused.json()["detail"] and "CURIO_PUBLIC_MAX_BODY_BYTES" in refused.json()["detail"]
    assert _post_raw(write_api, BASKET, raw).status_code != 413  # judged on its content (100 ids at most)
    small = _post_raw(read_api, BASKET, json.dumps({"item_ids": ["sku-1"]}).encode())
    assert small.status_code == 200


class _Unreadable:
    def read(self, *args):
        raise AssertionError("the body was read")


def _request_of(scope: str | None, content_length: int | None = None):
    meta = {} if content_length is None else {"CONTENT_LENGTH": str(content_length)}
    return SimpleNamespace(user=SimpleNamespace(scope=scope) if scope else None, META=meta)


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["read", "demo"])
def test_a_public_scope_is_refused_from_its_content_length_before_reading(scope):
    request = _request_of(scope, 64 * KB + 1)
    with pytest.raises(PayloadTooLarge, match="CURIO_PUBLIC_MAX_BODY_BYTES"):
        SafeJSONParser().parse(_Unreadable(), "application/json", {"request": request})


@pytest.mark.django_db
@override_settings(PUBLIC_MAX_BODY_BYTES=1000)
def test_a_public_scope_is_capped_while_reading_too():
    """Without a Content-Length (or a false one), at most limit + 1 bytes are read."""
    for scope, refused in (("read", True), ("demo", True), ("write", False), (None, False)):
        stream = BytesIO(b"[" + b"1," * 5_000 + b"1]")
        context = {"request": _request_of(scope)}
        if refused:
            with pytest.raises(PayloadTooLarge, match="1,000 bytes"):
                SafeJSONParser().parse(stream, "application/json", context)
            assert stream.tell() == 1001
        else:
            assert len(SafeJSONParser().parse(stream, "application/json", context)) == 5_001
