"""The inbox: raising, dismissing (held back until the evidence doubles), snoozing, accepting into the board, the
API (write scope, pagination, errors) and /metrics."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from curation.models import ChangeSet, Rule
from curation.rules import in_holdout
from curation.selectors import change_set_drafts
from curation.services import change_set_publish
from recsys.catalog.models import Item, Shopper
from recsys.feedback.models import Feedback
from recsys.suggestions.models import Suggestion
from recsys.suggestions.services import (
    SuggestionError,
    suggestion_accept,
    suggestion_dismiss,
    suggestion_snooze,
    suggestions_refresh,
)
from tests.factories import event, impression


def _reported(item_id: str, n: int, start: int = 0) -> None:
    item = Item.objects.get(item_id=item_id)
    for k in range(start, start + n):
        shopper, _ = Shopper.objects.get_or_create(user_id=f"complainer-{k}")
        Feedback.objects.create(shopper=shopper, item=item, type="not_interested", status="none")


@pytest.fixture
def reported(shop):
    impression("u", "books-1")  # the shop serves lists
    _reported("books-1", 20)
    return "books-1"


@pytest.fixture
def merch(db):
    from curation.services import merchandiser_group_ensure

    user = User.objects.create_user("merch", password="x", is_staff=True)
    user.groups.add(merchandiser_group_ensure())
    return user


def test_a_case_is_raised_once_refreshed_and_resolved_when_it_goes(reported):
    first = suggestions_refresh()
    assert [(s.detector, s.key) for s in first.raised] == [("item_reported", "item:books-1")]
    again = suggestions_refresh()
    assert not again.raised and again.refreshed == 1 and Suggestion.objects.count() == 1
    Feedback.objects.all().delete()
    assert suggestions_refresh().resolved == 1 and not Suggestion.objects.exists()


def test_dismiss_needs_a_reason_is_audited_and_holds_the_case_back_until_the_count_doubles(reported):
    row = suggestions_refresh().raised[0]
    with pytest.raises(SuggestionError, match="reason"):
        suggestion_dismiss(suggestion=row, reason="  ", actor="admin:merch")
    suggestion_dismiss(suggestion=row, reason="Sizing complaints, fixed in the catalog", actor="admin:merch")
    record = row.history.latest()
    assert (record.status, record.reason, record.history_change_reason) == (
        "dismissed", "Sizing complaints, fixed in the catalog", "dismissed by admin:merch")
    _reported("books-1", 10, start=20)  # 30: not yet double
    result = suggestions_refresh()
    assert not result.raised and result.held_back == 1
    _reported("books-1", 10, start=30)  # 40: doubled
    raised = suggestions_refresh().raised
    assert len(raised) == 1 and raised[0].pk != row.pk and raised[0].evidence["not_interested"] == 40
    assert raised[0].history.latest().history_change_reason.startswith("raised again: evidence x2.0")
    with pytest.raises(SuggestionError, match="already dismissed"):
        suggestion_dismiss(suggestion=row, reason="again", actor="admin:merch")


def test_snooze_hides_it_until_the_day_comes(reported):
    row = suggestions_refresh().raised[0]
    suggestion_snooze(suggestion=row, days=7, actor="admin:merch")
    suggestions_refresh()
    row.refresh_from_db()
    assert row.status == "snoozed"
    Suggestion.objects.filter(pk=row.pk).update(snoozed_until=timezone.now() - timedelta(minutes=1))
    suggestions_refresh()
    row.refresh_from_db()
    assert row.status == "open" and row.history.latest().history_change_reason == "snooze ended"
    with pytest.raises(SuggestionError):
        suggestion_snooze(suggestion=row, days=0, actor="admin:merch")


def test_accept_drafts_a_boost_with_a_holdout_on_the_board_then_publish_serves_it(shop, merch, write_api):
    # underexposed: clicked where popularity showed it, never by the model.
    now = timezone.now()
    for k in range(60):
        impression(f"u{k}", "garden-9", rec=f"pop-{k}", source="popular", placement="category")
        if k < 30:
            event(f"u{k}", "garden-9", "click", recommendation_id=f"pop-{k}")
        for position, other in enumerate(("books-2", "games-2", "garden-2"), start=2):
            impression(f"u{k}", other, rec=f"pop-{k}", position=position, source="popular", placement="category")
        impression(f"u{k}", f"{('books', 'games', 'garden')[k % 3]}-{k % 9}", rec=f"m-{k}", source="model",
                   placement="home")
    row = suggestions_refresh(now=now + timedelta(seconds=5)).raised
    assert [(s.detector, s.key) for s in row] == [("underexposed", "item:garden-9")]
    accepted = suggestion_accept(suggestion=row[0], author=merch, actor="admin:merch")
    rule = Rule.objects.get(pk=accepted.rule_id)
    assert (rule.kind, rule.item_id, rule.strength, rule.holdout_share, rule.enabled) == (
        "boost", "garden-9", 0.5, 0.1, False)
    assert rule.reason.startswith(f"Suggestion #{row[0].pk} (underexposed)")
    change_set = ChangeSet.objects.get(pk=accepted.change_set_id)
    assert change_set.author == merch and change_set_drafts(change_set=change_set) == [rule]
    row[0].refresh_from_db()
    assert (row[0].status, row[0].rule_id) == ("accepted", rule.pk)
    # Not live until published; then served boosted, except to the shoppers held out of it.
    users = [f"books-fan-{n}" for n in range(2)] + [f"shopper-{n}" for n in range(40)]

    def sources():
        out = {}
        for user in users:
            items = write_api.get(f"/api/v1/users/{user}/recommendations/?limit=10").json()["items"]
            out[user] = {i["item_id"]: i["source"] for i in items}.get("garden-9")
        return out

    assert "boosted" not in sources().values()
    change_set_publish(change_set=change_set, actor="admin:merch")
    served = sources()
    held = {u for u in users if in_holdout(rule.pk, u, 0.1)}
    assert held and held != set(users)
    assert all(served[u] == "boosted" for u in users if u not in held), served
    assert all(served[u] != "boosted" for u in held)


def test_accepting_a_hurting_rule_disables_it_and_a_model_regression_says_how_to_roll_back(shop, merch):
    from recsys.suggestions.planted import planted_problems_seed

    plant = planted_problems_seed(now=timezone.now(), seed=2)
    suggestions_refresh(now=timezone.now())
    hurts = Suggestion.objects.get(detector="rule_hurts")
    accepted = suggestion_accept(suggestion=hurts, author=merch, actor="admin:merch")
    assert accepted.change_set_id is None and accepted.rule_id == plant.rules["rule_hurts"]
    rule = Rule.objects.get(pk=accepted.rule_id)
    assert not rule.enabled and rule.history.latest().history_change_reason.startswith("disabled by admin:merch")
    regression = Suggestion.objects.get(detector="model_regression")
    with pytest.raises(SuggestionError, match=f"activating version {plant.versions[0]}"):
        suggestion_accept(suggestion=regression, author=merch, actor="admin:merch")
    extend = Suggestion.objects.get(detector="rule_expiring")
    accepted = suggestion_accept(suggestion=extend, author=merch, actor="admin:merch")
    draft, original = Rule.objects.get(pk=accepted.rule_id), Rule.objects.get(pk=plant.rules["rule_expiring"])
    assert (draft.kind, draft.item_id, draft.starts_at, draft.enabled) == ("pin", original.item_id,
                                                                            original.ends_at, False)
    assert draft.ends_at - draft.starts_at == timedelta(days=14)


# --- the API ---------------------------------------------------------------------------------------------

def test_the_api_lists_paginated_by_severity_accepts_and_dismisses(reported, write_api, settings, merch):
    settings.SUGGEST_API_AUTHOR = "merch"  # drafts go to this merchandiser's board
    suggestions_refresh()
    page = write_api.get("/api/v1/suggestions/?status=open&limit=1&offset=0")
    assert page.status_code == 200, page.json()
    body = page.json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 1
    item = body["results"][0]
    assert set(item) == {"id", "detector", "severity", "title", "why", "evidence", "status", "rule_id", "created_at"}
    assert (item["detector"], item["severity"], item["status"], item["rule_id"]) == (
        "item_reported", "high", "open", None)
    assert item["evidence"]["not_interested"] == 20
    accepted = write_api.post(f"/api/v1/suggestions/{item['id']}/accept/", {}, format="json")
    assert accepted.status_code == 201, accepted.json()
    rule = Rule.objects.get(pk=accepted.json()["rule_id"])
    assert (rule.kind, rule.item_id, rule.enabled, rule.change_set.author, rule.change_set_id) == (
        "block", "books-1", False, merch, accepted.json()["change_set_id"])
    again = write_api.post(f"/api/v1/suggestions/{item['id']}/accept/", {}, format="json")
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]
    assert write_api.get("/api/v1/suggestions/?status=accepted").json()["results"][0]["rule_id"] == rule.pk


def test_api_dismiss_and_errors(reported, write_api):
    suggestions_refresh()
    sid = Suggestion.objects.get().pk
    blank = write_api.post(f"/api/v1/suggestions/{sid}/dismiss/", {"reason": " "}, format="json")
    assert blank.status_code == 400 and blank.json()["errors"][0]["field"] == "reason"
    assert write_api.post(f"/api/v1/suggestions/{sid}/dismiss/", {}, format="json").status_code == 400
    assert write_api.post("/api/v1/suggestions/999999/dismiss/", {"reason": "x"}, format="json").status_code == 404
    bad = write_api.get("/api/v1/suggestions/?status=maybe")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"
    assert write_api.get("/api/v1/suggestions/?limit=abc").status_code == 400
    ok = write_api.post(f"/api/v1/suggestions/{sid}/dismiss/", {"reason": "Known: a courier problem"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "dismissed"
    assert write_api.get("/api/v1/suggestions/?status=open").json()["count"] == 0
    snooze = write_api.post(f"/api/v1/suggestions/{sid}/snooze/", {"days": 3}, format="json")
    assert snooze.status_code == 409


def test_read_tokens_and_anonymous_callers_are_refused(reported, read_api, anon_api):
    suggestions_refresh()
    sid = Suggestion.objects.get().pk
    assert read_api.get("/api/v1/suggestions/").status_code == 403
    assert read_api.post(f"/api/v1/suggestions/{sid}/accept/", {}, format="json").status_code == 403
    assert read_api.post(f"/api/v1/suggestions/{sid}/dismiss/", {"reason": "x"}, format="json").status_code == 403
    assert anon_api.get("/api/v1/suggestions/").status_code == 401
    assert Suggestion.objects.get().status == "open"


def test_metrics_count_suggestions_by_detector_and_status(reported, write_api):
    suggestions_refresh()
    text = write_api.get("/metrics").content.decode()
    assert 'curio_suggestions{detector="item_reported",status="open"} 1.0' in text


def test_the_admin_inbox_for_a_merchandiser_accept_and_dismiss(reported, merch, client):
    suggestions_refresh()
    row = Suggestion.objects.get()
    client.force_login(merch)
    page = client.get("/admin/recsys/suggestion/")
    assert page.status_code == 200 and row.title.encode() in page.content and b"Accept" in page.content
    assert b"landing-suggestions" in client.get("/admin/").content
    refused = client.post(f"/admin/recsys/suggestion/{row.pk}/decide/", {"action": "dismiss", "reason": ""},
                          follow=True)
    assert b"Say why you dismiss it" in refused.content
    client.post(f"/admin/recsys/suggestion/{row.pk}/decide/", {"action": "accept"})
    row.refresh_from_db()
    assert row.status == "accepted" and Rule.objects.get(pk=row.rule_id).change_set.author == merch
    other = User.objects.create_user("ops", password="x", is_staff=True)
    client.force_login(other)
    assert client.get("/admin/recsys/suggestion/").status_code == 403
