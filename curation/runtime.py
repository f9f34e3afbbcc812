"""The active rules as serving sees them, reloaded only when the rules stamp changes.

`current_rules()` is called on every list request; it must stay cheap (no DB query per
request): the curation feature replaces this stub with a stamp-checked cache.
"""
from __future__ import annotations


def current_rules() -> tuple:
    return ()
