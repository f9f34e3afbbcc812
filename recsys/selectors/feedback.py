"""Items a shopper never wants to see again ("not interested").

The hook for the trust feature: serving puts these into every list's `Context.excluded`.
Returns no items until "not interested" feedback is stored; replace the body, keep the signature.
"""
from __future__ import annotations


def not_interested_item_ids(*, user_ids: list[str]) -> dict[str, frozenset[str]]:
    """user_id -> item ids to leave out of that shopper's lists (absent: none)."""
    return {}
