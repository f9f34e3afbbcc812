"""Feedback API and the curators' review queue (admin, one-click decisions, audit)."""
from __future__ import annotations

import pytest

from curation.models import Rule
from recsys.models import Feedback, ReviewDecision
from tests.factories import items

pytestmark = pytest.mark.django_db


def post(api, user_id: str, body, **kw):
    return api.post(f"/api/v1/users/{user_id}/feedback/", body, format="json", **kw)


def test_not_interested_is_stored_once(write_api):
    items("a")
    r = post(write_api, "u1", {"item_id": "a", "type": "not_interested"})
    assert r.status_code == 201
    body = r.json()
    assert (body["item_id"], body["type"], body["status"]) == ("a", "not_interested", "none")
    assert post(write_api, "u1", {"item_id": "a", "type": "not_interested"}).status_code == 201
    assert Feedback.objects.filter(type="not_interested").count() == 1


def test_not_interested_after_a_merge_that_left_two_rows_answers_as_before(write_api):
    # Found by schemathesis: both ids said "not interested" in one item, a login merged them, and the next
    # "not interested" crashed (get_or_create found two rows) with a 500.
    items("a")
    for user_id in ("anon-1", "u1"):
        assert post(write_api, user_id, {"item_id": "a", "type": "not_interested"}).status_code == 201
    merged = write_api.post("/api/v1/users/u1/merge/", {"from_user_id": "anon-1"}, format="json")
    assert merged.status_code == 200
    assert Feedback.objects.filter(shopper__user_id="u1", type="not_interested").count() == 2
    again = post(write_api, "u1", {"item_id": "a", "type": "not_interested"})
    assert again.status_code == 201 and again.json()["item_id"] == "a"
    assert Feedback.objects.filter(shopper__user_id="u1", type="not_interested").count() == 2


def test_feedback_keeps_the_lists_recommendation_id(write_api):
    items("a")
    r = post(write_api, "u1", {"item_id": "a", "type": "not_interested", "recommendation_id": "rec-42"})
    assert r.status_code == 201
    assert Feedback.objects.get(shopper__user_id="u1").recommendation_id == "rec-42"
    data = write_api.get("/api/v1/users/u1/data/").json()
    assert data["feedback"][0]["recommendation_id"] == "rec-42"
    too_long = post(write_api, "u1", {"item_id": "a", "type": "report", "recommendation_id": "x" * 65})
    assert too_long.status_code == 400
    assert too_long.json()["errors"][0]["field"] == "recommendation_id"


def test_report_opens_a_review_item(write_api):
    items("a")
    r = post(write_api, "u1", {"item_id": "a", "type": "report", "comment": "Wrong size chart"})
    assert r.status_code == 201 and r.json()["status"] == "open"
    post(write_api, "u2", {"item_id": "a", "type": "report"})
    assert Feedback.objects.filter(type="report", status="open").count() == 2


@pytest.mark.parametrize("body, field", [
    ({"type": "report"}, "item_id"),
    ({"item_id": "a"}, "type"),
    ({"item_id": "a", "type": "love_it"}, "type"),
    ({"item_id": "a", "type": "report", "comment": "x" * 2001}, "comment"),
    ({"item_id": "nope", "type": "report"}, "item_id"),
    ({"item_id": "a" * 129, "type": "report"}, "item_id"),
])
def test_feedback_bad_input_is_a_400_per_field(write_api, body, field):
    items("a")
    r = post(write_api, "u1", body)
    assert r.status_code == 400
    assert field in [e["field"] for e in r.json()["errors"]]
    assert Feedback.objects.count() == 0


def test_feedback_refuses_non_objects_and_read_tokens(write_api, read_api, anon_api):
    items("a")
    assert post(write_api, "u1", [{"item_id": "a", "type": "report"}]).status_code == 400
    assert post(read_api, "u1", {"item_id": "a", "type": "report"}).status_code == 403
    assert post(anon_api, "u1", {"item_id": "a", "type": "report"}).status_code == 401


# --- review queue ---------------------------------------------------------------------------
@pytest.fixture
def reported(write_api):
    items("a", "b")
    post(write_api, "secret-shopper-1", {"item_id": "a", "type": "report", "comment": "Arrived broken"})
    post(write_api, "secret-shopper-2", {"item_id": "a", "type": "report", "comment": "Misleading photo"})
    post(write_api, "secret-shopper-3", {"item_id": "b", "type": "report", "comment": "Offensive print"})
    post(write_api, "secret-shopper-3", {"item_id": "b", "type": "not_interested"})


def test_queue_shows_items_comments_and_counts_without_personal_data(admin_client, reported):
    page = admin_client.get("/admin/recsys/feedback/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Arrived broken" in html and "Misleading photo" in html and "Offensive print" in html
    assert '<span class="report-count">2</span> reports' in html
    assert html.index("Arrived broken") < html.index("Offensive print")  # most reported first
    assert "secret-shopper" not in html


def test_block_creates_a_linked_block_rule_and_audits(admin_client, admin_user, reported):
    from recsys.models import Item

    item = Item.objects.get(item_id="a")
    r = admin_client.post(f"/admin/recsys/feedback/{item.pk}/decide/", {"action": "block"})
    assert r.status_code == 302
    decision = ReviewDecision.objects.get()
    assert (decision.action, decision.report_count, decision.decided_by) == ("block", 2, admin_user.username)
    rule = Rule.objects.get(pk=decision.rule_id)
    assert (rule.kind, rule.item_id, rule.enabled) == ("block", "a", True)
    assert "2 shopper report" in rule.reason and rule.created_by == f"admin:{admin_user.username}"
    assert set(Feedback.objects.filter(item=item).values_list("status", "decision_id")) == {("decided", decision.pk)}
    # The queue no longer shows it; the audit list does, with a link to the rule.
    assert "Arrived broken" not in admin_client.get("/admin/recsys/feedback/").content.decode()
    audit = admin_client.get("/admin/recsys/reviewdecision/").content.decode()
    assert f"rule #{rule.pk}" in audit
    # Deciding again finds nothing open.
    admin_client.post(f"/admin/recsys/feedback/{item.pk}/decide/", {"action": "dismiss"})
    assert ReviewDecision.objects.count() == 1


def test_annotate_needs_a_label_and_creates_an_annotation_rule(admin_client, reported):
    from recsys.models import Item

    item = Item.objects.get(item_id="b")
    admin_client.post(f"/admin/recsys/feedback/{item.pk}/decide/", {"action": "annotate", "note": "  "})
    assert ReviewDecision.objects.count() == 0 and Rule.objects.count() == 0
    admin_client.post(f"/admin/recsys/feedback/{item.pk}/decide/", {"action": "annotate", "note": "Print revised"})
    decision = ReviewDecision.objects.get()
    rule = Rule.objects.get(pk=decision.rule_id)
    assert (rule.kind, rule.label, rule.item_id) == ("annotation", "Print revised", "b")


def test_dismiss_closes_reports_without_a_rule(admin_client, reported):
    from recsys.models import Item

    item = Item.objects.get(item_id="a")
    admin_client.post(f"/admin/recsys/feedback/{item.pk}/decide/", {"action": "dismiss", "note": "Photo is fine"})
    decision = ReviewDecision.objects.get()
    assert decision.rule_id is None and decision.note == "Photo is fine"
    assert Rule.objects.count() == 0
    assert not Feedback.objects.filter(item=item, status="open").exists()


def test_unknown_action_and_get_change_nothing(admin_client, reported):
    from recsys.models import Item

    item = Item.objects.get(item_id="a")
    admin_client.post(f"/admin/recsys/feedback/{item.pk}/decide/", {"action": "delete_everything"})
    assert admin_client.get(f"/admin/recsys/feedback/{item.pk}/decide/").status_code == 302
    assert ReviewDecision.objects.count() == 0
    assert Feedback.objects.filter(status="open").count() == 3


def test_decisions_need_permission(client, django_user_model, reported):
    from django.contrib.auth.models import Permission

    from recsys.models import Item

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_feedback"))
    client.force_login(viewer)
    assert client.get("/admin/recsys/feedback/").status_code == 200
    item = Item.objects.get(item_id="a")
    assert client.post(f"/admin/recsys/feedback/{item.pk}/decide/", {"action": "block"}).status_code == 403
    assert ReviewDecision.objects.count() == 0


def test_a_retried_report_with_the_same_feedback_id_is_counted_once(write_api):
    items("a", "b")
    body = {"item_id": "a", "type": "report", "comment": "Broken", "feedback_id": "app-report-77"}
    first, retry = post(write_api, "u1", body), post(write_api, "u1", body)
    assert first.status_code == retry.status_code == 201
    assert first.json()["id"] == retry.json()["id"]
    assert Feedback.objects.filter(type="report", status="open").count() == 1
    other = post(write_api, "u1", {**body, "item_id": "b"})  # the id names other feedback
    assert other.status_code == 409 and "feedback_id" in other.json()["detail"]
    post(write_api, "u1", {"item_id": "a", "type": "report"})  # without an id: every report counts
    assert Feedback.objects.filter(type="report").count() == 2
