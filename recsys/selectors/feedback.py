"""Items a shopper never wants to see again ("not interested").

The hook for the trust feature: serving puts these into every list's `Context.excluded`.
One query for all shoppers of a call (batch lists included).
"""
from __future__ import annotations

from recsys.models import Feedback, FeedbackType


def not_interested_item_ids(*, user_ids: list[str]) -> dict[str, frozenset[str]]:
    """user_id -> item ids to leave out of that shopper's lists (absent: none)."""
    out: dict[str, set[str]] = {}
    rows = Feedback.objects.filter(shopper__user_id__in=user_ids, type=FeedbackType.NOT_INTERESTED).values_list(
        "shopper__user_id", "item__item_id")
    for user_id, item_id in rows:
        out.setdefault(user_id, set()).add(item_id)
    return {u: frozenset(items) for u, items in out.items()}
