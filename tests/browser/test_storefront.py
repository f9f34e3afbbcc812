"""The storefront demo in headless Chromium against a live server: pick a shopper, see a list with
curator badges, open "Why this?", hide an item with "not interested" and see it gone after a reload."""
from __future__ import annotations

import re
import shutil
from io import StringIO

import pytest
from django.core.management import call_command

from recsys.feedback.models import Feedback
from recsys.models import Event
from tests.conftest import make_client  # noqa: F401 - documents where tokens come from

LIMIT = 5


@pytest.fixture
def demo_shop(transactional_db):
    call_command("demo", "--scale", "0.05", stdout=StringIO())


def cards(page):
    page.wait_for_selector("#view[aria-busy=false] .cards .card")
    return page.locator(".page > div > section.list").first.locator(".card")


def test_storefront_end_to_end(demo_shop, live_server_url, page, artifacts_dir):
    from recsys.clients.services import api_client_create

    page.goto(live_server_url + "/")
    assert page.title() == "Curio demo shop"
    page.fill("#limit", str(LIMIT))
    page.dispatch_event("#limit", "change")
    shopper = page.locator("#shopper option").nth(1).get_attribute("value")
    page.select_option("#shopper", shopper)
    # Locator waits, not wait_for_function: a string predicate is an eval, which the page's CSP refuses.
    page.locator("h1", has_text=shopper).wait_for()
    assert shopper in page.locator("#taste").text_content()
    listed = cards(page)
    assert listed.count() == LIMIT, "a list of the requested length"
    first, second = (listed.nth(i).get_attribute("data-item-id") for i in (0, 1))

    # A merchandiser labels the first item through the API; the next load shows the badge.
    _, write_key = api_client_create(name="browser-merch", scope="write")
    answer = page.request.post(f"{live_server_url}/api/v1/curation/annotations/",
                               data={"item_id": first, "label": "Staff pick"},
                               headers={"Authorization": f"Token {write_key}"})
    assert answer.status == 201, answer.text()
    page.wait_for_timeout(1100)  # rules reach every process within a second
    page.reload()
    listed = cards(page)
    assert listed.count() == LIMIT
    card = page.locator(f'.card[data-item-id="{first}"]').first
    assert card.locator(".badge-label").text_content() == "Staff pick"
    assert all(listed.nth(i).locator(".badge-source").count() == 1 for i in range(LIMIT))

    # "Why this?" opens and shows at least one reason.
    card.locator("summary", has_text="Why this?").click()
    assert card.locator("details.why").get_attribute("open") is not None
    reason = card.locator("details.why li").first
    assert reason.is_visible() and reason.text_content().strip()

    # "Not interested" removes the item now, and it stays gone after a reload.
    page.locator(f'.card[data-item-id="{second}"] button[data-action="not-interested"]').click()
    page.locator("#status", has_text=re.compile(r"^Hidden")).wait_for()
    assert Feedback.objects.filter(shopper__user_id=shopper, item__item_id=second).exists()
    page.reload()
    listed = cards(page)
    assert listed.count() == LIMIT, "the list refills to its length"
    assert page.locator(f'.card[data-item-id="{second}"]').count() == 0

    # "Add to cart" sends a real event carrying the list's recommendation_id; the cart suggests more.
    third = listed.nth(2).get_attribute("data-item-id")
    rec = page.locator(".cards").first.get_attribute("data-recommendation-id")
    listed.nth(2).locator("button", has_text="Add to cart").click()
    page.locator("#cart-count", has_text=re.compile(r"^1$")).wait_for()
    event = Event.objects.get(shopper__user_id=shopper, item__item_id=third, type="add_to_cart")
    assert event.recommendation_id == rec
    page.click("a[data-nav=cart]")
    suggestions = page.locator("section.list", has=page.locator("h2", has_text="Goes with your cart"))
    suggestions.locator(".card").first.wait_for()
    assert page.locator(".cart li").count() == 1
    page.click("a[data-nav=home]")
    page.locator("h1", has_text="Picked for").wait_for()
    cards(page)
    shot = artifacts_dir / "storefront.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # Keep a copy under a stable name for docs/storefront.png (copied by hand when the page changes).
    shutil.copyfile(shot, artifacts_dir / "storefront-latest.png")


def test_storefront_is_readable_at_phone_width(demo_shop, live_server_url, page, artifacts_dir):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server_url + "/")
    cards(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Keyboard: the shopper picker and the first card's actions are reachable with Tab.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") in {"A", "SELECT", "INPUT", "BUTTON"}
    page.screenshot(path=str(artifacts_dir / "storefront-phone.png"), full_page=True)
