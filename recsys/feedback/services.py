"""Shopper feedback: "not interested" (a filter and a negative training signal) and reports
(which wait in the curators' review queue, see recsys.feedback.review)."""
from __future__ import annotations

from django.db import transaction

from recsys.catalog.models import Item, Shopper
from recsys.feedback.models import Feedback, FeedbackType

COMMENT_MAX_LENGTH = 2000


class ItemNotFound(Exception):
    pass


@transaction.atomic
def feedback_create(
    *, user_id: str, item_id: str, type: str, comment: str = "", recommendation_id: str = ""
) -> tuple[Feedback, bool]:
    """Record feedback; returns (feedback, created). Repeating "not interested" is idempotent."""
    item = Item.objects.filter(item_id=item_id).only("id").first()
    if item is None:
        raise ItemNotFound(item_id)
    shopper, _ = Shopper.objects.get_or_create(user_id=user_id)
    if type == FeedbackType.NOT_INTERESTED:
        return Feedback.objects.get_or_create(
            shopper=shopper, item=item, type=type,
            defaults={"comment": comment, "status": Feedback.Status.NONE, "recommendation_id": recommendation_id},
        )
    return Feedback.objects.create(
        shopper=shopper, item=item, type=type, comment=comment, status=Feedback.Status.OPEN,
        recommendation_id=recommendation_id,
    ), True
