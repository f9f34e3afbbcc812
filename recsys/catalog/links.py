"""What an item's `url` and `image_url` may be: one rule for the batch validators (API, imports) and the admin."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ABSOLUTE_URL = URLValidator(schemes=["http", "https"])


def link_problem(value: str) -> str | None:
    """Why `value` cannot be an item's `url` or `image_url`, or None when it can: an absolute http(s) URL (checked
    by Django's URLValidator) or a path on the shop's own site, starting with exactly one slash.

    `//evil.example/x` and `/\\evil.example/x` look like site paths but browsers read both as links to another
    host (scheme-relative): an open redirect for every frontend that links the item. They are refused, as is a
    backslash anywhere in a site path (browsers read it as a slash) and any control character (browsers drop
    tabs and line breaks from URLs, so `/<tab>/evil.example` would be `//evil.example`)."""
    if _CONTROL.search(value):
        return "must not contain control characters (tabs, line breaks)"
    if value.startswith("/"):
        if value[1:2] in ("/", "\\"):
            return (f"{value[:80]!r} starts with {value[:2]!r}, which browsers read as a link to another host: "
                    "give an absolute https:// URL or a site path starting with a single /")
        if "\\" in value:
            return f"{value[:80]!r} contains a backslash: use / in site paths"
        return None
    try:
        _ABSOLUTE_URL(value)
    except ValidationError:
        return f"{value[:80]!r} is not an absolute http(s) URL (https://host/path) or a site path (/path)"
    return None


def validate_link(value: str) -> None:
    """The same rule as a Django validator (forms)."""
    if value and (problem := link_problem(value)):
        raise ValidationError(problem, code="invalid_link")
