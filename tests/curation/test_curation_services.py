"""Rule services, validation, audit history, the Merchandiser group and the serving cache."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import F
from django.test import override_settings
from django.utils import timezone

from curation import live_rules
from curation.models import Rule, RulesStamp
from curation.rules import Candidate, Context, ItemInfo, apply
from curation.services import rule_create, rule_delete, rule_update, rules_duplicate, rules_set_enabled
from recsys.models import Item

pytestmark = pytest.mark.django_db


@pytest.fixture
def items(db):
    return [Item.objects.create(item_id=f"sku-{n}", title=f"Item {n}", category="shoes" if n % 2 else "hats")
            for n in range(1, 6)]


@pytest.fixture(autouse=True)
def fresh_cache():
    live_rules.invalidate()
    yield
    live_rules.invalidate()


def test_create_each_kind_and_engine_dataclass(items):
    pin = rule_create(kind="pin", data={"item_id": "sku-1", "position": 2, "placement": "home"}, actor="api:shop")
    block = rule_create(kind="block", data={"item_attribute": {"brand": "Acme"}}, actor="api:shop")
    boost = rule_create(kind="boost", data={"item_category": "hats", "strength": -0.5}, actor="api:shop")
    note = rule_create(kind="annotation", data={"item_id": "sku-2", "label": "Staff pick"}, actor="admin:ann")
    assert pin.created_by == "api:shop" and note.updated_by == "admin:ann"
    engine_pin = pin.to_engine()
    assert (engine_pin.id, engine_pin.kind, engine_pin.item_id, engine_pin.position, engine_pin.placement) == (
        pin.pk, "pin", "sku-1", 2, "home")
    assert block.to_engine().item_attribute == (("brand", "Acme"),)
    assert boost.to_engine().strength == -0.5 and boost.title == "Bury category hats (-0.50)"


@pytest.mark.parametrize("kind,data,field", [
    ("pin", {"item_id": "sku-1", "position": 0}, "position"),
    ("pin", {"item_id": "sku-1"}, "position"),
    ("pin", {"item_id": "nope", "position": 1}, "item"),
    ("boost", {"item_id": "sku-1", "strength": 1.5}, "strength"),
    ("boost", {"item_id": "sku-1"}, "strength"),
    ("block", {}, "item"),
    ("block", {"item_id": "sku-1", "item_category": "hats"}, "item_category"),
    ("annotation", {"item_id": "sku-1"}, "label"),
    ("pin", {"item_id": "sku-1", "position": 1, "strength": 0.5}, "strength"),
    ("segment", None, "segment_user_ids"),
    ("window", None, "ends_at"),
])
def test_validation_errors_name_the_field(items, kind, data, field):
    now = timezone.now()
    if kind == "segment":
        kind, data = "block", {"item_id": "sku-1", "segment": "users", "segment_user_ids": []}
    if kind == "window":
        kind, data = "block", {"item_id": "sku-1", "starts_at": now, "ends_at": now - timedelta(hours=1)}
    with pytest.raises(ValidationError) as exc:
        rule_create(kind=kind, data=data, actor="t")
    assert field in exc.value.message_dict
    assert Rule.objects.count() == 0


def test_history_keeps_who_when_and_before_after(items):
    rule = rule_create(kind="pin", data={"item_id": "sku-1", "position": 3}, actor="api:shop")
    rule_update(rule=rule, data={"position": 1}, actor="admin:ann")
    pk = rule.pk
    rule_delete(rule=rule, actor="api:cleanup")
    records = list(Rule.history.filter(id=pk).order_by("history_date"))
    assert [r.history_type for r in records] == ["+", "~", "-"]
    assert [r.updated_by for r in records] == ["api:shop", "admin:ann", "api:cleanup"]
    assert [r.history_change_reason for r in records] == [
        "created by api:shop", "changed by admin:ann", "deleted by api:cleanup"]
    delta = records[1].diff_against(records[0])
    changes = {c.field: (c.old, c.new) for c in delta.changes}
    assert changes["position"] == (3, 1)


def test_bulk_enable_disable_and_duplicate(items):
    a = rule_create(kind="block", data={"item_id": "sku-1"}, actor="t")
    b = rule_create(kind="block", data={"item_id": "sku-2", "enabled": False}, actor="t")
    assert rules_set_enabled(rules=Rule.objects.all(), enabled=False, actor="admin:ann") == 1
    assert not Rule.objects.filter(enabled=True).exists()
    copies = rules_duplicate(rules=[a, b], actor="admin:ann")
    assert len(copies) == 2 and all(not c.enabled and c.pk not in (a.pk, b.pk) for c in copies)
    assert copies[0].item_id == "sku-1" and copies[0].name.endswith("(copy)")


def test_merchandiser_group_has_exactly_its_permissions():
    group = Group.objects.get(name="Merchandiser")
    perms = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert perms == {
        "curation.add_rule", "curation.change_rule", "curation.delete_rule", "curation.view_rule",
        "curation.preview_rules", "curation.view_historicalrule", "recsys.view_item", "recsys.view_modelversion",
        "recsys.view_impression", "recsys.view_feedback", "curation.view_changeset",  # read only
        "recsys.view_suggestion", "recsys.change_suggestion", "recsys.view_historicalsuggestion",  # the inbox
    }


def test_merchandiser_group_ensure_restores_the_group():
    from curation.services import MERCHANDISER_PERMISSIONS, merchandiser_group_ensure

    migrated = {f"{p.content_type.app_label}.{p.codename}"
                for p in Group.objects.get(name="Merchandiser").permissions.all()}
    assert migrated == set(MERCHANDISER_PERMISSIONS)
    Group.objects.all().delete()
    group = merchandiser_group_ensure()
    assert {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()} == migrated
    assert merchandiser_group_ensure().pk == group.pk


# --- live rules cache --------------------------------------------------------------------
def _other_process_writes(item_id: str):
    """What another process's write looks like here: a new row and a moved stamp, no local invalidate."""
    Rule.objects.create(kind="block", item_id=item_id)
    if not RulesStamp.objects.filter(pk=1).update(version=F("version") + 1):
        RulesStamp.objects.create(pk=1, version=1)


def _wait_for(predicate, timeout=2.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError("not seen in time")


def test_cache_reloads_own_writes_at_once_and_others_within_a_second(items, django_assert_max_num_queries):
    assert len(live_rules.current_rules()) == 0
    rule_create(kind="block", data={"item_id": "sku-1"}, actor="t")
    assert [r.item_id for r in live_rules.current_rules()] == ["sku-1"]
    with django_assert_max_num_queries(0):
        for _ in range(100):
            live_rules.current_rules()  # served from memory between stamp checks
    _other_process_writes("sku-2")
    waited = _wait_for(lambda: len(live_rules.current_rules()) == 2)
    assert waited < 1.0


def test_cache_with_redis_stamp(items, redis_url, django_capture_on_commit_callbacks):
    with override_settings(REDIS_URL=redis_url, CACHES={"default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}):
        from django.core.cache import cache

        live_rules.invalidate()
        assert len(live_rules.current_rules()) == 0
        with django_capture_on_commit_callbacks(execute=True):
            rule_create(kind="block", data={"item_id": "sku-1"}, actor="t")
        assert cache.get(live_rules.STAMP_KEY) == RulesStamp.objects.get(pk=1).version
        assert len(live_rules.current_rules()) == 1
        # Another process writes and publishes the stamp in Redis.
        Rule.objects.create(kind="block", item_id="sku-2")
        cache.set(live_rules.STAMP_KEY, 999, timeout=None)
        assert _wait_for(lambda: len(live_rules.current_rules()) == 2) < 1.0


def test_expiry_takes_effect_without_a_write(items):
    now = timezone.now()
    rule_create(kind="pin", data={"item_id": "sku-5", "position": 1, "ends_at": now + timedelta(minutes=5)},
                actor="t")
    rules = live_rules.current_rules()
    cands = [Candidate(f"sku-{n}", 1.0) for n in range(1, 5)]

    def info(item_id):
        return ItemInfo(item_id)

    assert apply(cands, Context("popular", now), rules, limit=3, item_info=info)[0].item_id == "sku-5"
    later = now + timedelta(minutes=6)
    out = apply(cands, Context("popular", later), live_rules.current_rules(), limit=3, item_info=info)
    assert out[0].item_id == "sku-1"
