"""The suggestions inbox in Chromium: the landing card, the inbox with its evidence, Accept (a draft on the board,
published, then served), Dismiss with a reason."""
from __future__ import annotations

import pytest
from django.utils import timezone

from curation.models import Rule
from recsys.suggestions.models import Suggestion
from recsys.suggestions.planted import planted_problems_seed
from recsys.suggestions.services import suggestions_refresh
from tests.browser.admin_pages import log_in, merchandiser, picture_items, screenshot
from tests.serving_world import build_shop

pytestmark = pytest.mark.browser

INBOX = "/admin/recsys/suggestion/"


@pytest.fixture
def inbox(live_server_url, page):
    build_shop(shoppers_per_category=2)
    picture_items()
    planted = planted_problems_seed(now=timezone.now(), seed=3)
    suggestions_refresh()
    merchandiser()
    log_in(page, live_server_url, "/admin/")
    return live_server_url, planted


def test_the_inbox_accept_drafts_on_the_board_and_dismiss_needs_a_reason(inbox, page, artifacts_dir):
    base, planted = inbox
    card = page.locator("#landing-suggestions")
    assert "Suggestions" in card.inner_text() and "9" in card.locator(".count").inner_text()
    page.click("#landing-inbox")
    page.wait_for_selector(".curio-suggestion")
    assert page.locator(".curio-suggestion").count() == 9
    first = page.locator(".curio-suggestion").first
    assert "severity-high" in first.get_attribute("class")  # by severity, then age
    screenshot(page, "suggestions-inbox", artifacts_dir)

    row = Suggestion.objects.get(detector="underexposed")
    box = page.locator(f"#suggestion-{row.pk}")
    assert "curated impressions" in box.inner_text()  # the evidence, named as a person reads it
    box.locator("button.accept").click()
    page.wait_for_selector(".messagelist")
    assert "accepted: a draft in your change set" in page.locator(".messagelist").inner_text()
    row.refresh_from_db()
    rule = Rule.objects.get(pk=row.rule_id)
    assert (rule.kind, rule.item_id, rule.enabled, rule.holdout_share) == (
        "boost", planted.items["underexposed"], False, 0.1)

    # The draft is on the board; publishing makes it live.
    page.goto(f"{base}/admin/curation/rule/board/?placement=&limit=5")
    page.wait_for_selector("#draft-list li")
    assert f"#{rule.pk}" in page.locator("#draft-list").inner_text() or rule.item_id in page.locator(
        "#draft-list").inner_text()
    page.click("#publish")
    page.wait_for_selector("#no-drafts")
    rule.refresh_from_db()
    assert rule.enabled

    # Dismiss without a reason is refused; with one it leaves the inbox.
    page.goto(f"{base}{INBOX}")
    other = Suggestion.objects.get(detector="new_item_unseen")
    box = page.locator(f"#suggestion-{other.pk}")
    box.locator("button.dismiss").click()
    page.wait_for_selector(".messagelist")
    assert "Say why you dismiss it" in page.locator(".messagelist").inner_text()
    box = page.locator(f"#suggestion-{other.pk}")
    box.locator("input.reason").fill("Pre-order item: it launches next month")
    box.locator("button.dismiss").click()
    page.wait_for_selector(".messagelist")
    assert page.locator(f"#suggestion-{other.pk}").count() == 0
    other.refresh_from_db()
    assert (other.status, other.reason) == ("dismissed", "Pre-order item: it launches next month")
    page.goto(f"{base}{INBOX}?status=accepted")
    assert f"rule #{rule.pk}" in page.locator(f"#suggestion-{row.pk}").inner_text()
