"""Privacy's scheduled task: the retention purge (thin, idempotent; a beat entry calls it by name)."""
from __future__ import annotations

from celery import shared_task

from recsys.privacy.services import erasures_finish_pending, events_purge_expired


@shared_task(name="recsys.tasks_trust.purge_expired_events", ignore_result=True)
def purge_expired_events() -> int:
    return events_purge_expired()


@shared_task(name="recsys.tasks_trust.finish_pending_erasures", ignore_result=True)
def finish_pending_erasures() -> int:
    """Finish erasures whose model part failed after their database part committed."""
    return erasures_finish_pending()
