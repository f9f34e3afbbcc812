"""Impressions under faults: Redis unreachable (a closed port), a capped Redis list, a failed flush put
back. The drills (tests/drills/) run the same faults through gunicorn under load."""
from __future__ import annotations

import json

import pytest

from recsys.analytics import impression_buffer
from recsys.analytics.impression_buffer import REDIS_KEY, ImpressionBuffer, record_list, write_redis_batches
from recsys.models import Impression
from recsys.ops import redis_state
from recsys.ops.redis_state import circuit
from tests.factories import items
from tests.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_buffer(monkeypatch):
    buf = ImpressionBuffer()
    monkeypatch.setattr(impression_buffer, "_buffer", buf)
    circuit.reset()
    yield buf
    buf.close()
    circuit.reset()


def _serve(rec: str, *item_ids: str) -> None:
    record_list(recommendation_id=rec, items=[{"item_id": i, "rank": n, "source": "model"}
                                              for n, i in enumerate(item_ids, start=1)], user_id="u1")


def test_with_redis_down_rows_wait_in_the_buffer_and_go_when_it_returns(fresh_buffer, settings, redis_url):
    items("a", "b")
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens: refused
    _serve("r1", "a", "b")
    with pytest.raises(redis_state.REDIS_ERRORS):
        fresh_buffer.flush()  # the push fails: the batch goes back
    _serve("r2", "a")
    assert fresh_buffer.flush() == 0  # circuit open: nothing tried, nothing lost
    assert fresh_buffer.stats()["buffered"] == 3
    settings.REDIS_URL = redis_url  # Redis is back
    fresh_buffer._redis = None
    circuit.reset()
    settings.CELERY_BROKER_URL = redis_url
    assert fresh_buffer.flush() == 3
    client = redis_state.client(redis_url)
    assert [tuple(r)[:2] for blob in client.lrange(REDIS_KEY, 0, -1) for r in json.loads(blob)] == [
        ("r1", 1), ("r1", 2), ("r2", 1)]  # in the order served


def test_the_redis_list_is_capped_and_drops_are_counted(fresh_buffer, settings, redis_url):
    items("a")
    settings.REDIS_URL = settings.CELERY_BROKER_URL = redis_url
    settings.IMPRESSION_REDIS_MAX_BATCHES = 2
    for n in range(3):
        _serve(f"r{n}", "a")
        fresh_buffer.flush()
    client = redis_state.client(redis_url)
    assert client.llen(REDIS_KEY) == 2
    assert fresh_buffer.stats()["dropped_redis"] == 1
    assert write_redis_batches(client, 50) == 2 and Impression.objects.count() == 2


def test_a_batch_the_database_refuses_goes_back_to_the_head_of_the_redis_list(settings, redis_url):
    """A write that fails (here: a malformed row in the round's batches) puts every batch of the round back
    at the head of the list, in order; nothing is written (the write is one transaction)."""
    items("a")
    client = redis_state.client(redis_url)
    good = [["r1", 1, "a", "model", None, "", "", None, "u1", False, 1.0, [], []]]
    client.rpush(REDIS_KEY, json.dumps(good), json.dumps([["broken"]]))
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the database or the parser raises
        write_redis_batches(client, 50)
    assert client.llen(REDIS_KEY) == 2 and json.loads(client.lindex(REDIS_KEY, 0)) == good
    assert Impression.objects.count() == 0


def test_a_push_retried_after_a_lost_answer_is_stored_once(fresh_buffer, settings, redis_url):
    """A push whose answer never came (a timeout, a crash after the write) is sent again with its batch id:
    the script pushes each id once, so the rows are not doubled."""
    settings.REDIS_URL = settings.CELERY_BROKER_URL = redis_url
    batch = [("r1", 1, "a", "model", None, "", "", None, "u1", False, 1.0, [], [])]
    fresh_buffer._push_to_redis("batch-1", batch)
    fresh_buffer._push_to_redis("batch-1", batch)  # the retry
    fresh_buffer._push_to_redis("batch-2", batch)
    assert redis_state.client(redis_url).llen(REDIS_KEY) == 2


def test_the_flush_task_goes_out_on_a_new_connection_when_the_kept_one_is_stale(settings, redis_url):
    # One broker connection is kept per process; after a Redis restart it is stale: the send is tried once more
    # on a new one, and the task reaches the broker.
    from config.celery import app as celery_app

    settings.REDIS_URL = settings.CELERY_BROKER_URL = redis_url
    client = redis_state.client(redis_url)
    client.delete("celery")
    stale = celery_app.connection_for_write(f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    impression_buffer._broker[redis_url] = stale
    try:
        impression_buffer.enqueue_flush_task()
        assert client.llen("celery") == 1
        assert json.loads(client.lindex("celery", 0))["headers"]["task"] == impression_buffer.FLUSH_TASK
        kept = impression_buffer._broker[redis_url]
        assert kept is not stale
        impression_buffer.enqueue_flush_task()  # the new connection is the one kept
        assert impression_buffer._broker[redis_url] is kept and client.llen("celery") == 2
    finally:
        impression_buffer._broker.pop(redis_url, None)
        client.delete("celery")
