"""Celery tasks of the trust features (listed in CELERY_IMPORTS): thin, idempotent."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

FLUSH_BATCHES_PER_ROUND = 50


@shared_task(name="recsys.tasks_trust.purge_expired_events", ignore_result=True)
def purge_expired_events() -> int:
    from recsys.services.privacy import events_purge_expired

    return events_purge_expired()


@shared_task(name="recsys.tasks_trust.flush_impressions", ignore_result=True)
def flush_impressions() -> int:
    """Write impressions pushed to Redis by serving processes to the database, in bulk."""
    from recsys.impressions import buffer, pop_redis_batches
    from recsys.services.impressions import impressions_write

    if not settings.REDIS_URL:
        return buffer().flush()  # no Redis: only this process's own buffer exists
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    written = 0
    while rows := pop_redis_batches(client, FLUSH_BATCHES_PER_ROUND):
        written += impressions_write(rows=rows)
    return written
