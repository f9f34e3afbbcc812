"""Feedback reads: items a shopper never wants to see again ("not interested"), the review queue.

Serving puts "not interested" items into every list's `Context.excluded`, with one query for all
shoppers of a call (batch lists included).
"""
from __future__ import annotations

from django.db.models import Count, F, Max, QuerySet, Window
from django.db.models.functions import RowNumber

from recsys.catalog.models import Item
from recsys.feedback.models import Feedback, FeedbackType


def not_interested_item_ids(*, user_ids: list[str]) -> dict[str, frozenset[str]]:
    """user_id -> item ids to leave out of that shopper's lists (absent: none)."""
    out: dict[str, set[str]] = {}
    rows = Feedback.objects.filter(shopper__user_id__in=user_ids, type=FeedbackType.NOT_INTERESTED).values_list(
        "shopper__user_id", "item__item_id")
    for user_id, item_id in rows:
        out.setdefault(user_id, set()).add(item_id)
    return {u: frozenset(items) for u, items in out.items()}


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
