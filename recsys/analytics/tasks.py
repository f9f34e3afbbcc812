"""Analytics' task: write impressions that serving processes pushed to Redis (thin, idempotent)."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from recsys.analytics.impression_buffer import FLUSH_TASK, buffer, write_redis_batches
from recsys.ops import redis_state

FLUSH_BATCHES_PER_ROUND = 50


@shared_task(name=FLUSH_TASK, ignore_result=True)
def flush_impressions() -> int:
    """Write impressions pushed to Redis by serving processes to the database, in bulk."""
    if not settings.REDIS_URL:
        return buffer().flush()  # no Redis: only this process's own buffer exists
    client = redis_state.client()
    written = 0
    while n := write_redis_batches(client, FLUSH_BATCHES_PER_ROUND):
        written += n
    return written
