"""Rule forms per kind in Chromium: only the kind's fields, fitting widgets, valid rules saved, clear errors."""
from __future__ import annotations

import re

import pytest

from curation.models import Rule
from tests.browser.admin_pages import log_in, merchandiser, picture_items, screenshot
from tests.serving_world import build_shop

pytestmark = pytest.mark.browser
RULES = "/admin/curation/rule/"


def open_form(page, base: str, kind: str) -> None:
    page.goto(f"{base}{RULES}add/?kind={kind}")
    page.wait_for_selector("#rule_form")


def save(page) -> None:
    page.click("input[name=_save]")
    page.wait_for_load_state()


def errors(page) -> str:
    return " ".join(page.locator(".errorlist").all_inner_texts())


def pick_item(page, field: str, query: str, item_id: str) -> None:
    page.locator(f".field-{field} .item-picker-query").fill(query)
    page.locator(f'.field-{field} .item-option[data-item-id="{item_id}"]').click()


@pytest.fixture
def admin_page(live_server_url, page):
    build_shop(shoppers_per_category=2)
    picture_items()
    merchandiser()
    log_in(page, live_server_url, RULES)
    return page


def test_the_generic_add_asks_for_the_kind_first(admin_page, live_server_url):
    page = admin_page
    page.goto(f"{live_server_url}{RULES}add/")
    assert page.locator("#kind-choices li").count() == 5
    page.click("#choose-boost")
    page.wait_for_url(re.compile(r".*\?kind=boost$"))
    assert page.locator("h1").inner_text() == "Add boost / bury"
    for absent in ("position", "label", "max_per_category"):
        assert page.locator(f"#id_{absent}").count() == 0
    assert page.locator("#id_strength").count() == 1 and page.locator(".field-item_attribute .kv-row").count() == 2


def test_pin_form_item_picker_holdout_default_and_errors(admin_page, live_server_url, artifacts_dir):
    page = admin_page
    open_form(page, live_server_url, "pin")
    assert page.input_value("#id_holdout_share") == "0.1"  # new rules are measured by default
    assert page.locator("#id_strength, #id_item_attribute, #id_label").count() == 0
    assert not page.locator(".field-segment_user_ids").is_visible()  # only for "Listed shoppers"
    page.fill("#id_position", "2")
    save(page)
    assert "The rule targets nothing: give an item." in errors(page)
    assert not Rule.objects.exists()

    page.locator(".field-item .item-picker-query").fill("Games")
    options = page.locator(".field-item .item-option")
    options.first.wait_for()
    assert options.count() == 8 and options.first.locator(".card-img").count() == 1  # thumbnails
    screenshot(page, "form-pin", artifacts_dir)
    pick_item(page, "item", "games-4", "games-4")
    page.select_option("#id_segment", "users")
    assert page.locator(".field-segment_user_ids").is_visible()
    page.fill("#id_segment_user_ids", "games-fan-0\ngames-fan-1\n")
    page.fill("#id_placement", "home")
    save(page)
    assert "was added successfully" in page.locator(".messagelist").inner_text()
    rule = Rule.objects.get()
    assert (rule.kind, rule.item_id, rule.position, rule.holdout_share, rule.segment_user_ids) == (
        "pin", "games-4", 2, 0.1, ["games-fan-0", "games-fan-1"])


def test_block_boost_annotation_and_diversity_forms(admin_page, live_server_url, artifacts_dir):
    page = admin_page
    # Block: one target only.
    open_form(page, live_server_url, "block")
    assert page.locator("#id_holdout_share").count() == 0  # blocks apply to everyone
    pick_item(page, "item", "books-2", "books-2")
    page.fill("#id_item_category", "books")
    save(page)
    assert "Give exactly one target" in errors(page)
    page.fill("#id_item", "")
    save(page)
    assert "was added successfully" in page.locator(".messagelist").inner_text()
    assert Rule.objects.get(kind="block").item_category == "books"

    # Boost (a bury) on matching attributes, with the key/value editor; a strength beyond 1 is refused.
    open_form(page, live_server_url, "boost")
    page.locator(".field-item_attribute input[name=item_attribute__key]").first.fill("brand")
    page.locator(".field-item_attribute input[name=item_attribute__value]").first.fill("Acme")
    page.click(".field-item_attribute .kv-add")
    page.locator(".field-item_attribute input[name=item_attribute__key]").last.fill("style")
    page.locator(".field-item_attribute input[name=item_attribute__value]").last.fill("classic")
    page.fill("#id_strength", "-0.4")
    screenshot(page, "form-boost", artifacts_dir)
    page.fill("#id_strength", "1.5")
    page.locator("#id_strength").evaluate("el => el.removeAttribute('max')")  # past the browser's own check
    save(page)
    assert "less than or equal to 1" in errors(page)
    assert page.locator(".field-item_attribute input[name=item_attribute__value]").nth(1).input_value() == "classic"
    page.fill("#id_strength", "-0.4")
    save(page)
    boost = Rule.objects.get(kind="boost")
    assert (boost.item_attribute, boost.strength, boost.title) == (
        {"brand": "Acme", "style": "classic"}, -0.4, "Bury brand=Acme, style=classic (-0.40)")

    # Annotation: a label is required.
    open_form(page, live_server_url, "annotation")
    pick_item(page, "item", "Garden 1", "garden-1")
    save(page)
    assert "An annotation needs a label shoppers will see." in errors(page)
    page.fill("#id_label", "Staff pick")
    save(page)
    assert Rule.objects.get(kind="annotation").label == "Staff pick"

    # Diversity: at least one cap; caps per attribute through the key/value editor.
    open_form(page, live_server_url, "diversity")
    assert page.locator("#id_item, #id_holdout_share").count() == 0
    save(page)
    assert "A diversity rule needs a cap" in errors(page)
    page.locator(".field-max_per_attribute input[name=max_per_attribute__key]").first.fill("brand")
    page.locator(".field-max_per_attribute input[name=max_per_attribute__value]").first.fill("2")
    save(page)
    assert Rule.objects.get(kind="diversity").max_per_attribute == {"brand": 2}
