"""Impression recording (in-process buffer, background thread, Redis + a real Celery worker) and attribution."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from recsys.analytics import impression_buffer
from recsys.analytics.impression_buffer import ImpressionBuffer, placing_rule_id, record_list
from recsys.analytics.selectors import attribution_counts, impact_cells
from recsys.models import Impression
from recsys.privacy.services import shopper_erase
from tests.factories import event, impression, items
from tests.processes import database_url, stop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_buffer(monkeypatch):
    buf = ImpressionBuffer()
    monkeypatch.setattr(impression_buffer, "_buffer", buf)
    yield buf
    buf.close()


def served(rec: str, *item_ids: str, sources=None) -> list[dict]:
    sources = sources or ["model"] * len(item_ids)
    return [{"item_id": i, "rank": n, "source": s, "trace": {"rules": [
        {"id": 41, "type": "pin", "effect": "pinned at #1", "action": "pinned"}] if s == "pinned" else []}}
        for n, (i, s) in enumerate(zip(item_ids, sources, strict=True), start=1)]


def test_placing_rule_is_the_pin_or_the_positive_boost():
    trace = {"rules": [{"id": 3, "type": "annotation", "effect": "labelled", "action": "labelled"},
                       {"id": 5, "type": "boost", "effect": "buried -0.50", "action": "buried"},
                       {"id": 6, "type": "boost", "effect": "boosted +0.80", "action": "boosted"},
                       {"id": 9, "type": "pin", "effect": "pinned at #2", "action": "pinned"}]}
    assert placing_rule_id("pinned", trace) == 9
    assert placing_rule_id("boosted", trace) == 6
    assert placing_rule_id("model", trace) is None


@pytest.mark.django_db
def test_lists_are_buffered_then_written_in_bulk(fresh_buffer, django_assert_max_num_queries):
    items("a", "b", "c")
    record_list(recommendation_id="r1", items=served("r1", "a", "b", sources=["pinned", "model"]),
                placement="home", list_type="personal", model_version=4, user_id="u1")
    record_list(recommendation_id="r2", items=served("r2", "c", "gone"), placement="cart", list_type="basket",
                user_id="", is_control=True)
    assert Impression.objects.count() == 0  # nothing on the request path
    assert fresh_buffer.stats()["buffered"] == 4
    with django_assert_max_num_queries(6):  # bulk: not one query per row
        assert fresh_buffer.flush() == 4
    rows = {(i.recommendation_id, i.position): i for i in Impression.objects.select_related("item")}
    assert set(rows) == {("r1", 1), ("r1", 2), ("r2", 1)}  # the unknown item is skipped
    first = rows[("r1", 1)]
    assert (first.item.item_id, first.source, first.rule_id, first.placement, first.list_type,
            first.model_version, first.user_id, first.is_control) == ("a", "pinned", 41, "home", "personal", 4,
                                                                      "u1", False)
    assert rows[("r2", 1)].is_control and rows[("r2", 1)].list_type == "basket"
    assert fresh_buffer.stats() == {"buffered": 0, "dropped": 0, "dropped_redis": 0, "written": 4}


@pytest.mark.django_db
def test_full_buffer_drops_instead_of_blocking(fresh_buffer):
    with override_settings(IMPRESSION_BUFFER_MAX=3):
        record_list(recommendation_id="r1", items=served("r1", "a", "b"))
        record_list(recommendation_id="r2", items=served("r2", "a", "b"))
    assert fresh_buffer.stats()["buffered"] == 2 and fresh_buffer.stats()["dropped"] == 2


@pytest.mark.django_db
def test_impressions_in_flight_for_an_erased_shopper_are_dropped(fresh_buffer):
    items("a")
    event("u1", "a")
    record_list(recommendation_id="r1", items=served("r1", "a"), user_id="u1")
    record_list(recommendation_id="r2", items=served("r2", "a"), user_id="u2")
    shopper_erase(user_id="u1")
    fresh_buffer.flush()
    assert list(Impression.objects.values_list("user_id", flat=True)) == ["u2"]


@pytest.mark.django_db(transaction=True)
def test_background_thread_flushes_by_time_without_redis(fresh_buffer):
    items("a", "b")
    with override_settings(IMPRESSION_BACKGROUND_FLUSH=True, IMPRESSION_FLUSH_SECONDS=0.2,
                           IMPRESSION_FLUSH_SIZE=1000):
        record_list(recommendation_id="r1", items=served("r1", "a", "b"), user_id="u1")
        deadline = time.monotonic() + 15
        while Impression.objects.count() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert Impression.objects.count() == 2
        fresh_buffer.close()


@pytest.mark.django_db
def test_attribution_links_events_to_impressions_by_recommendation_id_and_item():
    items("a", "b", "c")
    impression("u1", "a", rec="r1", position=1)
    impression("u1", "b", rec="r1", position=2)
    impression("u2", "a", rec="r2", position=1)
    event("u1", "a", "click", recommendation_id="r1")
    event("u1", "a", "purchase", recommendation_id="r1")
    event("u1", "b", "add_to_cart", recommendation_id="r1")
    event("u1", "c", "click", recommendation_id="r1")  # item not shown in r1: not attributed
    event("u2", "a", "click", recommendation_id="")  # no recommendation id
    event("u2", "a", "view", recommendation_id="r2")  # a view is not an outcome
    now = timezone.now()
    span = {"start": now - timedelta(hours=1), "end": now + timedelta(hours=1)}
    assert attribution_counts(**span) == {"click": 1, "add_to_cart": 1, "purchase": 1}
    cells = {(c.position, c.source): c for c in impact_cells(**span)}
    assert (cells[(1, "model")].impressions, cells[(1, "model")].clicks, cells[(1, "model")].conversions) == (2, 1, 1)
    assert (cells[(2, "model")].impressions, cells[(2, "model")].clicks, cells[(2, "model")].conversions) == (1, 1, 0)
    assert impact_cells(start=now + timedelta(hours=1), end=now + timedelta(hours=2)) == []
    assert attribution_counts(**span, placement="email") == {"click": 0, "add_to_cart": 0, "purchase": 0}


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_impressions_flow_through_redis_and_a_real_celery_worker(redis_url, fresh_buffer, tmp_path):
    import redis

    items("a", "b", "c")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", "REDIS_URL": redis_url,
           "DATABASE_URL": database_url(), "MODEL_DIR": str(tmp_path)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "celery", "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        with override_settings(REDIS_URL=redis_url):
            record_list(recommendation_id="r1", items=served("r1", "a", "b", sources=["pinned", "model"]),
                        placement="home", list_type="personal", user_id="u1")
            record_list(recommendation_id="r2", items=served("r2", "c"), placement="home", user_id="u2",
                        is_control=True)
            assert fresh_buffer.flush() == 3
        # The web process only pushed to Redis; the worker writes to the database.
        deadline = time.monotonic() + 60
        while Impression.objects.count() < 3 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
        assert Impression.objects.count() == 3, worker.stdout.read() if worker.poll() is not None else ""
        assert redis.Redis.from_url(redis_url).llen(impression_buffer.REDIS_KEY) == 0
        pinned = Impression.objects.get(recommendation_id="r1", position=1)
        assert pinned.source == "pinned" and pinned.rule_id == 41
        assert Impression.objects.get(recommendation_id="r2").is_control
    finally:
        stop(worker, timeout=20)
