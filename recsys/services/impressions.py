"""Writing impressions in bulk (called by the flusher thread or the Celery flush task)."""
from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction

from recsys.models import Impression, Item
from recsys.services.privacy import erased_since

BULK_SIZE = 2000


@transaction.atomic
def impressions_write(*, rows: list[tuple]) -> int:
    """Insert rows shaped like recsys.impressions.FIELDS; returns rows written.

    Items unknown by now are skipped. Rows of a shopper erased after they were served are
    dropped, so an erasure cannot be undone by impressions still in flight.
    """
    if not rows:
        return 0
    item_pks = dict(Item.objects.filter(item_id__in={r[2] for r in rows}).values_list("item_id", "id"))
    erased = erased_since({r[8] for r in rows if r[8]})
    objs = []
    for rec_id, position, item_id, source, rule_id, placement, list_type, version, user_id, control, ts in rows:
        pk = item_pks.get(item_id)
        if pk is None:
            continue
        created_at = datetime.fromtimestamp(float(ts), tz=UTC)
        if user_id in erased and created_at <= erased[user_id]:
            continue
        objs.append(Impression(
            recommendation_id=rec_id, position=position, item_id=pk, source=source, rule_id=rule_id,
            placement=placement, list_type=list_type, model_version=version, user_id=user_id,
            is_control=control, created_at=created_at,
        ))
    Impression.objects.bulk_create(objs, batch_size=BULK_SIZE)
    return len(objs)
