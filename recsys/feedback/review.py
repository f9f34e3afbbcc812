"""The curators' review queue: one decision closes every open report of an item, and is audited."""
from __future__ import annotations

from django.db import transaction

from curation.services import rule_create
from recsys.catalog.models import Item
from recsys.feedback.models import Feedback, FeedbackType, ReviewDecision


class NothingToReview(Exception):
    pass


class DecisionInvalid(Exception):
    pass


@transaction.atomic
def review_decide(*, item: Item, action: str, decided_by: str, note: str = "") -> ReviewDecision:
    """Block (creates a block rule), annotate (creates an annotation rule labelled `note`) or
    dismiss; links the open reports to the decision."""
    if action not in ReviewDecision.Action.values:
        raise DecisionInvalid(f"Unknown action {action!r}.")
    note = note.strip()
    if action == ReviewDecision.Action.ANNOTATE and not note:
        raise DecisionInvalid("An annotation needs a label shoppers will see.")
    report_ids = list(
        Feedback.objects.select_for_update()
        .filter(item=item, type=FeedbackType.REPORT, status=Feedback.Status.OPEN).values_list("id", flat=True)
    )
    if not report_ids:
        raise NothingToReview(f"{item.item_id} has no open reports.")
    actor = f"admin:{decided_by}"
    why = f"Review queue: {len(report_ids)} shopper report(s)" + (f"; {note}" if note else "")
    rule = None
    if action == ReviewDecision.Action.BLOCK:
        rule = rule_create(kind="block", data={"item_id": item.item_id, "reason": why}, actor=actor)
    elif action == ReviewDecision.Action.ANNOTATE:
        rule = rule_create(kind="annotation", data={"item_id": item.item_id, "label": note[:100], "reason": why},
                           actor=actor)
    decision = ReviewDecision.objects.create(
        item=item, action=action, note=note, decided_by=decided_by, report_count=len(report_ids),
        rule_id=rule.pk if rule else None,
    )
    Feedback.objects.filter(id__in=report_ids).update(status=Feedback.Status.DECIDED, decision=decision)
    return decision
