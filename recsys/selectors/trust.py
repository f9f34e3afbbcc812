"""Reads for the trust features: feedback filters and training signals, the review queue."""
from __future__ import annotations

import numpy as np
from django.db.models import Count, Max, QuerySet

from recsys.models import Feedback, FeedbackType, Item


def not_interested_item_ids(user_id: str) -> frozenset[str]:
    """Items the shopper said "not interested" to: serving excludes them from every list."""
    if not user_id:
        return frozenset()
    return frozenset(
        Feedback.objects.filter(shopper__user_id=user_id, type=FeedbackType.NOT_INTERESTED)
        .values_list("item__item_id", flat=True)
    )


def not_interested_pairs() -> tuple[np.ndarray, np.ndarray]:
    """(shopper pks, item pks) of every "not interested": training removes these cells."""
    rows = list(
        Feedback.objects.filter(type=FeedbackType.NOT_INTERESTED, shopper__personalization_consent=True)
        .values_list("shopper_id", "item_id")
    )
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    arr = np.asarray(rows, dtype=np.int64)
    return arr[:, 0], arr[:, 1]


def review_queue() -> QuerySet[Item]:
    """Items with open reports, most reported first."""
    return (
        Item.objects.filter(feedback__type=FeedbackType.REPORT, feedback__status=Feedback.Status.OPEN)
        .annotate(open_reports=Count("feedback"), last_reported_at=Max("feedback__created_at"))
        .order_by("-open_reports", "-last_reported_at")
    )


def report_comments(item: Item, *, limit: int = 50) -> list[dict]:
    """An item's open report comments, without who wrote them."""
    return list(
        Feedback.objects.filter(item=item, type=FeedbackType.REPORT, status=Feedback.Status.OPEN)
        .exclude(comment="").order_by("-created_at").values("comment", "created_at")[:limit]
    )
