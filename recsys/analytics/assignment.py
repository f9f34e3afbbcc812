"""Randomized control assignment: pure, stable per shopper and day, no state.

A request is in the control group when a hash of (shopper, UTC day) falls under the share, so
one shopper sees one experience all day and is re-drawn the next. Anonymous requests (no
shopper) are drawn per request from their own key (the recommendation id).
"""
from __future__ import annotations

import hashlib
from datetime import date

_SCALE = float(2**64)


def bucket(key: str, day: date) -> float:
    """A uniform number in [0, 1) that depends only on `key` and `day`."""
    digest = hashlib.blake2b(f"{day.isoformat()}|{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def in_control(*, user_id: str, day: date, share: float, fallback_key: str = "") -> bool:
    if share <= 0:
        return False
    if share >= 1:
        return True
    key = user_id or fallback_key
    if not key:
        return False
    return bucket(("u:" if user_id else "r:") + key, day) < share
