"""The merchandising board in Chromium: drag to pin, drafts previewed but not served, publish, block,
keyboard pins, conflicts on publish."""
from __future__ import annotations

import pytest

from curation.models import ChangeSet, ChangeSetStatus, Rule
from tests.browser.admin_pages import (
    log_in,
    merchandiser,
    picture_items,
    read_headers,
    screenshot,
    served_items,
    write_headers,
)
from tests.serving_world import build_shop

pytestmark = pytest.mark.browser

BOARD = "/admin/curation/rule/board/?placement=home&limit=5&holdout_share=0"


def curated_ids(page) -> list[str]:
    return page.locator("#curated-list > .card").evaluate_all("cards => cards.map(c => c.dataset.itemId)")


@pytest.fixture
def shop(live_server_url, page):
    build_shop(shoppers_per_category=4)
    picture_items()
    merchandiser()
    log_in(page, live_server_url, BOARD)
    return live_server_url


def test_drag_to_position_1_is_a_draft_until_published_then_the_api_serves_it_first(shop, page, artifacts_dir):
    headers = read_headers()
    api = f"{shop}/api/v1/popular/?limit=5&placement=home"
    before = [i["item_id"] for i in served_items(page, api, headers)]
    assert curated_ids(page) == before  # no rules yet: the board shows what shoppers get
    target, first = before[3], before[0]

    page.drag_and_drop(f"#curated-card-{target}", f"#curated-card-{first}")
    page.wait_for_selector("#draft-list li")
    assert "Not live until you publish" in page.locator(".messagelist").first.inner_text()
    assert curated_ids(page)[0] == target
    card = page.locator(f"#curated-card-{target}")
    assert "card-draft" in card.get_attribute("class") and "draft" in card.inner_text()
    assert "↑3" in card.inner_text()  # movement against the algorithm (#4 there)
    rule = Rule.objects.get()
    assert (rule.kind, rule.item_id, rule.position, rule.placement, rule.enabled) == ("pin", target, 1, "home", False)
    screenshot(page, "board", artifacts_dir)

    # Not served yet: the API still answers the algorithm's order.
    assert [i["item_id"] for i in served_items(page, api, headers)] == before

    page.click("#publish")
    page.wait_for_selector("#no-drafts")
    assert "Published change set" in page.locator(".messagelist").first.inner_text()
    items = served_items(page, api, headers, until=lambda items: items[0]["item_id"] == target)
    assert (items[0]["item_id"], items[0]["rank"], items[0]["source"]) == (target, 1, "pinned")
    rule.refresh_from_db()
    assert rule.enabled and rule.history.latest().history_change_reason.startswith("published in change set")

    # Undo: the publish message links the rule's history; revert to the draft version and save.
    page.locator(".messagelist").first.get_by_role("link", name=f"#{rule.pk} history").click()
    draft = rule.history.get(history_change_reason__startswith="drafted")
    page.click(f'a[href$="/history/{draft.history_id}/"]')
    page.wait_for_selector("#id_enabled")
    assert "Revert" in page.locator("h1").inner_text() and not page.is_checked("#id_enabled")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    rule.refresh_from_db()
    assert not rule.enabled
    items = served_items(page, api, headers, until=lambda items: items[0]["item_id"] != target)
    assert [i["item_id"] for i in items] == before


def test_block_from_a_card_then_publish(shop, page):
    headers = read_headers()
    api = f"{shop}/api/v1/popular/?limit=5&placement=home"
    victim = curated_ids(page)[1]
    card = page.locator(f"#curated-card-{victim}")
    card.locator("summary").click()
    card.locator("button[value=block]").click()
    page.wait_for_selector("#draft-list li")
    assert victim not in curated_ids(page)
    removed = page.locator(f'#removed-list li[data-item-id="{victim}"]')
    assert "blocked" in removed.inner_text() and "(draft)" in removed.inner_text()
    assert victim in [i["item_id"] for i in served_items(page, api, headers)]
    page.click("#publish")
    page.wait_for_selector("#no-drafts")
    items = served_items(page, api, headers, until=lambda items: victim not in [i["item_id"] for i in items])
    assert victim not in [i["item_id"] for i in items]
    assert Rule.objects.get().kind == "block"


def test_keyboard_only_pin_boost_and_discard(shop, page, artifacts_dir):
    ids = curated_ids(page)
    target = ids[4]
    page.locator(f"#curated-card-{target}").focus()
    page.keyboard.press("Space")
    assert "Picked up" in page.locator("#board-live").inner_text()
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    assert curated_ids(page)[1] == target  # moved in the page, nothing sent yet
    assert not Rule.objects.exists()
    page.keyboard.press("Enter")
    page.wait_for_selector("#draft-list li")
    assert curated_ids(page)[1] == target
    rule = Rule.objects.get()
    assert (rule.item_id, rule.position, rule.enabled) == (target, 2, False)

    # Escape puts a picked-up card back.
    other = curated_ids(page)[3]
    page.locator(f"#curated-card-{other}").focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    assert curated_ids(page)[3] == other

    # A boost through the card's actions with the keyboard: open them, set the slider, press the button.
    boosted = curated_ids(page)[4]
    card = page.locator(f"#curated-card-{boosted}")
    card.locator("summary").focus()
    page.keyboard.press("Enter")
    card.locator("input[name=strength]").focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")  # 0.5 -> 1.0
    assert card.locator(".strength-out").inner_text() == "+1.0"
    card.locator("button[value=boost]").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#draft-list li:nth-child(2)")
    boost = Rule.objects.get(kind="boost")
    assert (boost.item_id, boost.strength, boost.enabled) == (boosted, 1.0, False)
    screenshot(page, "board-actions", artifacts_dir, selector=".board-col-curated")

    page.locator("#discard").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-drafts")
    assert not Rule.objects.exists()
    assert ChangeSet.objects.get().status == ChangeSetStatus.DISCARDED


def test_a_conflict_is_shown_on_publish_and_can_be_accepted(shop, page, artifacts_dir):
    ids = curated_ids(page)
    page.drag_and_drop(f"#curated-card-{ids[2]}", f"#curated-card-{ids[0]}")
    page.wait_for_selector("#draft-list li")
    # Meanwhile an integration pins another item at #1 on home through the API.
    created = page.request.post(f"{shop}/api/v1/curation/pins/", headers=write_headers(),
                                data={"item_id": ids[4], "position": 1, "placement": "home"})
    assert created.status == 201, created.text()
    live_id = created.json()["id"]

    page.click("#publish")
    page.wait_for_selector("#conflicts")
    assert "changed since your drafts began" in page.locator(".messagelist").first.inner_text()
    conflict = page.locator(f'#conflicts li[data-rule-id="{live_id}"]')
    assert "created" in conflict.inner_text() and "api:integration" in conflict.inner_text()
    assert "both pin position 1" in conflict.inner_text()
    assert not Rule.objects.get(kind="pin", item_id=ids[2]).enabled
    screenshot(page, "board-conflict", artifacts_dir, selector="#drafts")

    page.click("#publish-anyway")
    page.wait_for_selector("#no-drafts")
    assert Rule.objects.get(kind="pin", item_id=ids[2]).enabled
