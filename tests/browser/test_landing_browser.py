"""The admin is Curio's, and a merchandiser lands on what matters today (Chromium)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from curation.services import rule_create
from recsys.analytics.models import Impression, RuleImpression
from recsys.feedback.services import feedback_create
from recsys.models import Event, Item, Shopper
from tests.browser.admin_pages import log_in, merchandiser, picture_items, screenshot
from tests.serving_world import build_shop

pytestmark = pytest.mark.browser


@pytest.fixture
def measured_env(server_env):
    # A large minimum effect keeps the planned sample small, so a few hundred impressions give a verdict.
    server_env["CURIO_RULE_MDE"] = "1.0"
    return server_env


def _measured_boost(item_id: str, *, exposed_clicks: int, holdout_clicks: int, n: int = 400):
    """A boost with a holdout and `n` impressions per arm, clicked as given (as serving and events record them)."""
    rule = rule_create(kind="boost", data={"item_id": item_id, "strength": 0.5, "holdout_share": 0.3},
                       actor="admin:merch")
    shopper = Shopper.objects.first()
    item = Item.objects.get(item_id=item_id)
    now = timezone.now()
    shown, rule_shown, events = [], [], []
    at = now - timedelta(minutes=5)
    # exposed: the boost placed it; holdout: what held-out shoppers saw there; control: served without curation.
    for arm, clicks in (("exposed", exposed_clicks), ("holdout", holdout_clicks), ("control", holdout_clicks // 2)):
        for k in range(n):
            rec = f"rec-{rule.pk}-{arm}-{k}"
            shown.append(Impression(recommendation_id=rec, position=1, item=item, placement="home",
                                    list_type="personal", source="boosted" if arm == "exposed" else "popular",
                                    rule_id=rule.pk if arm == "exposed" else None, user_id=shopper.user_id,
                                    is_control=arm == "control", created_at=at))
            if arm != "control":
                rule_shown.append(RuleImpression(rule_id=rule.pk, arm=arm, recommendation_id=rec, position=1,
                                                 item=item, user_id=shopper.user_id, created_at=at))
            if k < clicks:
                events.append(Event(event_id=f"click-{rec}", shopper=shopper, item=item, type="click",
                                    recommendation_id=rec, timestamp=now - timedelta(minutes=4)))
    Impression.objects.bulk_create(shown)
    RuleImpression.objects.bulk_create(rule_shown)
    Event.objects.bulk_create(events)
    return rule


def test_the_landing_page_shows_live_rules_this_week_reports_and_verdicts(measured_env, live_server_url, page,
                                                                         artifacts_dir):
    build_shop(shoppers_per_category=4)
    picture_items()
    merchandiser()
    now = timezone.now()
    live = rule_create(kind="pin", data={"item_id": "books-1", "position": 1, "placement": "home",
                                         "ends_at": now + timedelta(days=3)}, actor="admin:merch")
    starting = rule_create(kind="annotation", data={"item_id": "games-2", "label": "Back soon",
                                                    "starts_at": now + timedelta(days=2)}, actor="admin:merch")
    later = rule_create(kind="block", data={"item_id": "garden-3", "starts_at": now + timedelta(days=20)},
                        actor="admin:merch")
    helps = _measured_boost("books-2", exposed_clicks=120, holdout_clicks=30)
    feedback_create(user_id="books-fan-0", item_id="garden-4", type="report", comment="Arrived broken")

    log_in(page, live_server_url, "/admin/")
    assert page.title().endswith("Curio") and page.locator("#site-name").inner_text() == "Curio"
    landing = page.locator("#merch-landing")
    live_box = landing.locator("#landing-live")
    assert live.title in live_box.inner_text() and helps.title in live_box.inner_text()
    assert later.title not in live_box.inner_text() and starting.title not in live_box.inner_text()
    week = landing.locator("#landing-week").inner_text()
    assert f"starts {starting.starts_at:%b} " in week and starting.title in week
    assert "ends " in week and live.title in week and later.title not in week
    reports = landing.locator("#landing-reports").inner_text()
    assert "garden-4" in reports and "1 open report" in reports
    verdicts = landing.locator("#landing-verdicts").inner_text()
    assert "helps" in verdicts and helps.title in verdicts
    screenshot(page, "landing", artifacts_dir)

    # From the landing page to the board, the review queue and the impact report.
    page.click("#landing-board")
    page.wait_for_selector("#curated-list")
    assert page.locator("h1").inner_text() == "Merchandising board"
    page.goto(f"{live_server_url}/admin/")
    page.click("#landing-reports a")
    page.wait_for_selector("text=Arrived broken")
    page.goto(f"{live_server_url}/admin/")
    page.click("#landing-impact")
    page.wait_for_selector("text=Each rule against its own holdout")
    screenshot(page, "impact-report", artifacts_dir)
