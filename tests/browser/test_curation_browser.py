"""End to end in Chromium: a merchandiser pins an item in the admin, previews it, and the API agrees."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from curation.models import Rule
from curation.services import merchandiser_group_ensure
from recsys.clients.services import api_client_create
from recsys.models import Item
from tests.serving_world import build_shop

pytestmark = pytest.mark.browser


def test_merchandiser_pins_an_item_previews_it_and_the_api_serves_it(live_server_url, server_env, page,
                                                                      artifacts_dir, tmp_path):
    build_shop(shoppers_per_category=4)
    user = User.objects.create_user("merch", password="merch-pass-123", is_staff=True)
    user.groups.add(merchandiser_group_ensure())  # a transactional test before may have flushed the migration's
    _, key = api_client_create(name="storefront", scope="read")
    headers = {"Authorization": f"Token {key}"}
    popular_url = f"{live_server_url}/api/v1/popular/?limit=5&placement=home"

    before = page.request.get(popular_url, headers=headers)
    assert before.ok, before.text()
    before_ids = [i["item_id"] for i in before.json()["items"]]
    target = before_ids[-1]  # fifth today; the pin moves it to #2
    title = Item.objects.get(item_id=target).title

    # Log in as the merchandiser.
    page.goto(f"{live_server_url}/admin/login/?next=/admin/curation/rule/")
    page.fill("#id_username", "merch")
    page.fill("#id_password", "merch-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/curation/rule/$"))
    assert page.locator("h1").inner_text().startswith("Select rule")

    # Create a pin through the add form, picking the item with the autocomplete.
    page.click("#add-pin")
    page.wait_for_url(re.compile(r".*/admin/curation/rule/add/\?kind=pin$"))
    assert page.locator("#id_strength").count() == 0  # the pin form shows only a pin's fields
    page.locator(".field-item .item-picker-query").fill(title)
    page.locator(f'.field-item .item-option[data-item-id="{target}"]').click()
    assert page.input_value("#id_item") == target and title in page.locator("#id_item_chosen").inner_text()
    page.fill("#id_position", "2")
    page.fill("#id_placement", "home")
    page.fill("#id_reason", "Browser test launch")
    # A new pin proposes a 10% holdout; an anonymous request draws it afresh, so this test serves everyone.
    assert page.input_value("#id_holdout_share") == "0.1"
    page.fill("#id_holdout_share", "0")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r".*/admin/curation/rule/$"))
    assert "was added successfully" in page.locator(".messagelist").inner_text()
    row = page.locator("#result_list tbody tr").first
    assert "Active" in row.locator(".rule-status").inner_text()
    rule = Rule.objects.get()
    assert (rule.kind, rule.item_id, rule.position, rule.placement, rule.created_by, rule.holdout_share) == (
        "pin", target, 2, "home", "admin:merch", 0.0)

    # Preview the popular list on "home": the pinned item sits at #2, attributed to the rule.
    page.click("#preview-link")
    page.select_option("#id_list_type", "popular")
    page.fill("#id_placement", "home")
    page.fill("#id_limit", "5")
    page.click("#preview-submit")
    curated = page.locator(f'#curated-list tr[data-item-id="{target}"]')
    curated.wait_for()
    assert curated.get_attribute("data-rank") == "2"
    assert f"#{rule.pk}" in curated.inner_text() and "pinned at #2" in curated.inner_text()
    algorithm = page.locator(f'#algorithm-list tr[data-item-id="{target}"]')
    assert algorithm.get_attribute("data-rank") == "5"
    page.screenshot(path=str(artifacts_dir / "curation-preview.png"), full_page=True)

    # The API serves the same list.
    after = page.request.get(popular_url, headers=headers).json()["items"]
    assert after[1]["item_id"] == target and after[1]["rank"] == 2 and after[1]["source"] == "pinned"
    assert after[1]["reasons"][0]["type"] == "curated"
