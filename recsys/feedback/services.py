"""Shopper feedback: "not interested" (a filter and a negative training signal) and reports
(which wait in the curators' review queue, see recsys.feedback.review)."""
from __future__ import annotations

from django.db import IntegrityError, transaction

from recsys.catalog.models import Item, Shopper
from recsys.feedback.models import Feedback, FeedbackType

COMMENT_MAX_LENGTH = 2000


class ItemNotFound(Exception):
    pass


class FeedbackIdConflict(Exception):
    """The feedback_id is already taken by feedback of another shopper, item or type."""


@transaction.atomic
def feedback_create(
    *, user_id: str, item_id: str, type: str, comment: str = "", recommendation_id: str = "",
    feedback_id: str | None = None,
) -> tuple[Feedback, bool]:
    """Record feedback; returns (feedback, created). Repeating "not interested" is idempotent, and so is
    sending a report again with the same `feedback_id` (counted once in the review queue). Raises
    FeedbackIdConflict when that id belongs to other feedback."""
    feedback_id = feedback_id or None
    if feedback_id is not None:
        existing = Feedback.objects.filter(feedback_id=feedback_id).select_related("shopper", "item").first()
        if existing is not None:
            return _same_feedback(existing, user_id=user_id, item_id=item_id, type=type), False
    item = Item.objects.filter(item_id=item_id).only("id").first()
    if item is None:
        raise ItemNotFound(item_id)
    shopper, _ = Shopper.objects.get_or_create(user_id=user_id)
    if type == FeedbackType.NOT_INTERESTED:
        # Not get_or_create: a login merge can leave one shopper two rows for an item (one from each id).
        existing = Feedback.objects.filter(shopper=shopper, item=item, type=type).order_by("pk").first()
        if existing is not None:
            return existing, False
        return Feedback.objects.create(shopper=shopper, item=item, type=type, comment=comment,
                                       status=Feedback.Status.NONE, recommendation_id=recommendation_id,
                                       feedback_id=feedback_id), True
    try:
        with transaction.atomic():  # a concurrent retry with the same feedback_id: the first one wins
            return Feedback.objects.create(
                shopper=shopper, item=item, type=type, comment=comment, status=Feedback.Status.OPEN,
                recommendation_id=recommendation_id, feedback_id=feedback_id,
            ), True
    except IntegrityError:
        existing = Feedback.objects.filter(feedback_id=feedback_id).select_related("shopper", "item").first()
        if feedback_id is None or existing is None:
            raise
        return _same_feedback(existing, user_id=user_id, item_id=item_id, type=type), False


def _same_feedback(existing: Feedback, *, user_id: str, item_id: str, type: str) -> Feedback:
    if (existing.shopper.user_id, existing.item.item_id, existing.type) != (user_id, item_id, type):
        raise FeedbackIdConflict(existing.feedback_id)
    return existing
