"""Reads for the trust features: feedback filters and training signals, the review queue."""
from __future__ import annotations

import numpy as np
from django.db.models import Count, F, Max, QuerySet, Window
from django.db.models.functions import RowNumber

from recsys.models import Feedback, FeedbackType, Item


def review_queue() -> QuerySet[Item]:
    """Items with open reports, most reported first."""
    return (
        Item.objects.filter(feedback__type=FeedbackType.REPORT, feedback__status=Feedback.Status.OPEN)
        .annotate(open_reports=Count("feedback"), last_reported_at=Max("feedback__created_at"))
        .order_by("-open_reports", "-last_reported_at")
    )


def report_comments(items: list[Item], *, limit: int = 50) -> dict[int, list[dict]]:
    """{item pk: its newest open report comments (at most `limit`), without who wrote them}, in one query."""
    rows = (
        Feedback.objects.filter(item__in=items, type=FeedbackType.REPORT, status=Feedback.Status.OPEN)
        .exclude(comment="")
        .annotate(rank=Window(RowNumber(), partition_by=F("item_id"), order_by=F("created_at").desc()))
        .filter(rank__lte=limit).order_by("item_id", "-created_at").values("item_id", "comment", "created_at")
    )
    out: dict[int, list[dict]] = {}
    for row in rows:
        out.setdefault(row.pop("item_id"), []).append(row)
    return out


PROMOTED_SOURCES = ("pinned", "boosted")


def promoted_event_arrays(*, since) -> tuple[np.ndarray, ...]:
    """(shopper pks, item pks, type codes, values, epoch seconds) of consenting shoppers' events
    that followed a pinned or boosted impression of the same item in the same list."""
    from django.db.models import Exists, OuterRef

    from recsys.matrix import TYPE_CODES
    from recsys.models import Event, Impression

    promoted = Impression.objects.filter(recommendation_id=OuterRef("recommendation_id"), item_id=OuterRef("item_id"),
                                         source__in=PROMOTED_SOURCES)
    rows = list(
        Event.objects.filter(shopper__personalization_consent=True, timestamp__gte=since)
        .exclude(recommendation_id="").filter(Exists(promoted))
        .values_list("shopper_id", "item_id", "type", "value", "timestamp")
    )
    return (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
            np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
            np.fromiter((TYPE_CODES.get(r[2], 0) for r in rows), dtype=np.int8, count=len(rows)),
            np.fromiter((r[3] for r in rows), dtype=np.float32, count=len(rows)),
            np.fromiter((r[4].timestamp() for r in rows), dtype=np.float64, count=len(rows)))


def downweight_promoted(data, *, config, now):
    """Training's hook: the matrix with interactions from promoted impressions down-weighted
    by PROMOTED_INTERACTION_WEIGHT (1 leaves the matrix as it is)."""
    from datetime import datetime, timedelta

    from django.conf import settings

    from recsys import matrix as mx
    from recsys.promotion import downweight

    factor = settings.PROMOTED_INTERACTION_WEIGHT
    if factor >= 1.0:
        return data
    since = (now - timedelta(days=config.window_days) if config.window_days > 0
             else datetime(1970, 1, 2, tzinfo=now.tzinfo))
    users, items, types, values, ts = promoted_event_arrays(since=since)
    if not len(users):
        return data
    weights = mx.event_weights(types, values, ts, now=now.timestamp(), config=config)
    return downweight(data, users, items, weights, factor)
