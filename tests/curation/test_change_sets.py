"""Change sets: the board's drafts are disabled rules until one audited publish enables them all."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from curation.models import ChangeSet, ChangeSetStatus, Rule
from curation.selectors import change_set_conflicts, rules_for_serving
from curation.services import (
    ChangeSetConflicts,
    ChangeSetError,
    ChangeSetInvalid,
    change_set_discard,
    change_set_draft,
    change_set_open,
    change_set_publish,
    change_set_remove,
    merchandiser_group_ensure,
    rule_create,
    rule_update,
)
from recsys.merchandising import board
from recsys.models import Item

ACTOR = "admin:merch"


@pytest.fixture
def merch(db):
    return User.objects.create_user("merch", password="x", is_staff=True)


def _pin(cs, item="books-3", position=1, **extra):
    return change_set_draft(change_set=cs, kind="pin", actor=ACTOR,
                            data={"item_id": item, "position": position, "placement": "home", **extra})


def test_a_draft_is_a_disabled_rule_of_the_authors_open_set_and_not_served(small_shop, merch):
    cs = change_set_open(author=merch)
    assert change_set_open(author=merch) == cs  # one open set per author
    rule = _pin(cs)
    assert (rule.enabled, rule.change_set_id, rule.created_by) == (False, cs.pk, ACTOR)
    assert rule.history.latest().history_change_reason == f"drafted in change set #{cs.pk} by {ACTOR}"
    assert rule.pk not in {r.id for r in rules_for_serving(now=rule.created_at)}
    # Dragging the same item again moves the one draft pin instead of stacking another.
    again = _pin(cs, position=3)
    assert again.pk == rule.pk and Rule.objects.get(pk=rule.pk).position == 3 and cs.rules.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeSet.objects.create(author=merch)


def test_the_board_previews_the_authors_drafts_only(small_shop, merch):
    other = User.objects.create_user("other", password="x", is_staff=True)
    mine = _pin(change_set_open(author=merch), item="books-3", position=1)
    theirs = _pin(change_set_open(author=other), item="games-4", position=2)
    req = board.BoardRequest(placement="home", limit=5, holdout_share=0)
    view = board.board_build(req, drafts=[mine], now=mine.created_at)
    first = view.curated[0]
    assert (first.item_id, first.source, first.draft) == ("books-3", "pinned", True)
    assert first.rules[0]["draft"] and first.move in ("new", "up")
    assert theirs.pk not in view.draft_ids
    assert not any(r["id"] == theirs.pk for c in view.curated for r in c.rules)  # another's draft: unseen
    assert all(c.source != "pinned" and not c.rules for c in view.algorithm)


def test_publish_enables_the_whole_set_in_one_audited_step(small_shop, merch):
    cs = change_set_open(author=merch)
    pin = _pin(cs)
    block = change_set_draft(change_set=cs, kind="block", actor=ACTOR, data={"item_id": "games-1",
                                                                            "placement": "home"})
    published = change_set_publish(change_set=cs, actor=ACTOR)
    assert {r.pk for r in published.rules} == {pin.pk, block.pk}
    for rule in Rule.objects.filter(pk__in=[pin.pk, block.pk]):
        assert rule.enabled and rule.updated_by == ACTOR
        record = rule.history.latest()
        assert record.history_change_reason == f"published in change set #{cs.pk} by {ACTOR}"
        assert record.history_user == merch
    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.PUBLISHED and cs.closed_by == ACTOR
    assert change_set_open(author=merch).pk != cs.pk  # the next draft starts a new set
    with pytest.raises(ChangeSetError, match="already published"):
        change_set_publish(change_set=cs, actor=ACTOR)
    # Undo is the history's revert: the version before the publish is the disabled draft.
    draft_version = pin.history.filter(history_change_reason__startswith="drafted").latest().instance
    assert draft_version.enabled is False


def test_publish_re_validates_and_publishes_nothing_when_a_draft_became_invalid(small_shop, merch):
    cs = change_set_open(author=merch)
    good = _pin(cs, item="books-3", position=1)
    bad = _pin(cs, item="books-4", position=2)
    # Something changed the draft behind the board's back into an invalid rule (the DB allows it).
    Rule.objects.filter(pk=bad.pk).update(label="stray")
    with pytest.raises(ChangeSetInvalid) as exc:
        change_set_publish(change_set=cs, actor=ACTOR)
    assert bad.pk in exc.value.errors and "label" in " ".join(exc.value.errors[bad.pk])
    assert not Rule.objects.filter(pk__in=[good.pk, bad.pk], enabled=True).exists()
    assert ChangeSet.objects.get(pk=cs.pk).status == ChangeSetStatus.OPEN


def test_a_rule_changed_since_the_drafts_began_is_a_conflict_until_accepted(small_shop, merch):
    live = rule_create(kind="pin", data={"item_id": "garden-2", "position": 1, "placement": "home"},
                       actor="api:storefront")
    unrelated = rule_create(kind="boost", data={"item_id": "games-7", "strength": 0.3, "placement": "email"},
                            actor="api:storefront")
    cs = change_set_open(author=merch)
    draft = _pin(cs, item="books-3", position=1)
    assert change_set_conflicts(change_set=cs) == []  # created before the drafts began
    rule_update(rule=live, data={"priority": 5}, actor="api:storefront")
    rule_update(rule=unrelated, data={"strength": 0.4}, actor="api:storefront")
    [conflict] = change_set_conflicts(change_set=cs)
    assert (conflict.rule_id, conflict.change, conflict.draft_id, conflict.changed_by) == (
        live.pk, "changed", draft.pk, "api:storefront")
    assert "position 1" in conflict.why
    with pytest.raises(ChangeSetConflicts) as exc:
        change_set_publish(change_set=cs, actor=ACTOR)
    assert [c.rule_id for c in exc.value.conflicts] == [live.pk]
    assert not Rule.objects.get(pk=draft.pk).enabled
    published = change_set_publish(change_set=cs, actor=ACTOR, accept_conflicts=True)
    assert published.conflicts and Rule.objects.get(pk=draft.pk).enabled


def test_discard_deletes_the_drafts_with_an_audit_record_and_closes_the_set(small_shop, merch):
    cs = change_set_open(author=merch)
    pin, label = _pin(cs), change_set_draft(change_set=cs, kind="annotation", actor=ACTOR,
                                            data={"item_id": "books-5", "label": "Staff pick"})
    assert change_set_discard(change_set=cs, actor=ACTOR) == 2
    assert not Rule.objects.filter(pk__in=[pin.pk, label.pk]).exists()
    deleted = Rule.history.filter(id=pin.pk, history_type="-").get()
    assert deleted.history_change_reason == f"discarded with change set #{cs.pk} by {ACTOR}"
    assert ChangeSet.objects.get(pk=cs.pk).status == ChangeSetStatus.DISCARDED
    with pytest.raises(ChangeSetError):
        _pin(cs)


def test_drafts_are_validated_like_any_rule_and_removed_one_by_one(small_shop, merch):
    cs = change_set_open(author=merch)
    with pytest.raises(ValidationError) as exc:
        _pin(cs, position=0)
    assert "position" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        change_set_draft(change_set=cs, kind="boost", actor=ACTOR, data={"item_id": "books-1", "strength": 3})
    assert "strength" in exc.value.message_dict
    with pytest.raises(ValidationError):
        _pin(cs, item="no-such-item")
    assert not cs.rules.exists()
    keep, drop = _pin(cs), _pin(cs, item="books-6", position=2)
    change_set_remove(change_set=cs, rule=drop, actor=ACTOR)
    assert list(cs.rules.values_list("pk", flat=True)) == [keep.pk]
    live = rule_create(kind="block", data={"item_id": "books-9"}, actor=ACTOR)
    with pytest.raises(ChangeSetError):
        change_set_remove(change_set=cs, rule=live, actor=ACTOR)
    assert Item.objects.filter(item_id="books-9").exists()


def test_the_board_pages_for_a_merchandiser_and_not_for_other_staff(small_shop, merch, client):
    merch.groups.add(merchandiser_group_ensure())
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/curation/rule/board/").status_code == 403
    assert client.post("/admin/curation/rule/board/change/", {"action": "pin"}).status_code == 403
    client.force_login(merch)
    resp = client.post("/admin/curation/rule/board/change/", {"action": "pin", "item_id": "books-3",
                                                              "position": "0", "placement": "home"})
    assert resp.status_code == 302 and "placement=home" in resp["Location"]
    assert not Rule.objects.exists()  # position 0 refused, with the model's message
    page = client.get(resp["Location"]).content.decode()
    assert "Not drafted: position:" in page
    client.post("/admin/curation/rule/board/change/", {"action": "label", "item_id": "books-3", "label": "New",
                                                       "placement": "home", "holdout_share": "0.2"})
    rule = Rule.objects.get()
    assert (rule.kind, rule.label, rule.holdout_share, rule.enabled) == ("annotation", "New", 0.2, False)
    assert f"Draft #{rule.change_set_id}" in client.get("/admin/curation/rule/").content.decode()
    board_page = client.get("/admin/curation/rule/board/?placement=home").content.decode()
    assert 'id="draft-list"' in board_page and "Label books-3" in board_page
    assert 'id="pin-any"' in board_page  # an item in neither list can be pinned too
    client.post("/admin/curation/rule/board/change/", {"action": "pin", "item_id": "garden-9", "position": "3",
                                                       "placement": "home", "holdout_share": "0"})
    assert Rule.objects.get(kind="pin").item_id == "garden-9"
    sets = client.get("/admin/curation/changeset/").content.decode()
    assert f"change set #{rule.change_set_id}" in sets and f"/admin/curation/rule/{rule.pk}/history/" in sets
    found = client.get("/admin/curation/rule/items/", {"q": "Books 3"}).json()["results"]
    assert [r["item_id"] for r in found] == ["books-3"] and set(found[0]) >= {"title", "image_url", "price"}
