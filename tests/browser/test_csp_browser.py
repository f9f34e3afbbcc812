"""The Content-Security-Policy in Chromium: the storefront, the admin (login, landing, rule list and forms, board,
preview, training, model card, review queue, impact report, API clients) and the API docs answer with the
header, load without a single violation and still work.

Violations are caught twice: `visit` asserts none after each page, and the `page` fixture
(tests/browser/conftest.py) fails any browser test that saw one, so every page the other browser tests visit
is held to the same policy.
"""
from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from curation.services import rule_create
from recsys.catalog.models import Item, Shopper
from recsys.clients.models import ApiClient
from recsys.feedback.services import feedback_create
from recsys.training.models import ModelVersion

pytestmark = pytest.mark.browser

ADMIN_USER, ADMIN_PASSWORD = "csp-admin", "csp-admin-pass-123"


@pytest.fixture
def demo_shop(transactional_db):
    call_command("demo", "--scale", "0.05", stdout=StringIO())


def visit(page, url: str, csp_violations: list[str], ready: str) -> str:
    """Open `url`, wait for `ready` (a selector) and the network to settle; the page's policy, checked."""
    response = page.goto(url)
    assert response is not None and response.ok, f"{url}: {response and response.status}"
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "script-src 'self'" in policy, f"{url}: {policy!r}"
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    page.wait_for_selector(ready, state="attached")
    page.wait_for_load_state("networkidle")
    assert csp_violations == [], f"{url}: " + "\n".join(csp_violations)
    return policy


def colour(page, selector: str, prop: str = "color") -> str:
    return page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")


def test_storefront_and_api_docs_work_under_the_csp(demo_shop, live_server_url, page, csp_violations):
    visit(page, f"{live_server_url}/", csp_violations, "#view[aria-busy=false] .cards .card")
    # The configuration stays a JSON data block (never executed), and the lists came from the API (connect-src).
    assert page.locator('script#storefront-config[type="application/json"]').count() == 1
    assert page.locator(".cards .card").count() > 0
    # The thumbnails' colour is set through the CSSOM (a style attribute would be refused).
    assert page.locator(".thumb").first.evaluate("e => e.style.getPropertyValue('--hue')") != ""

    policy = visit(page, f"{live_server_url}/api/docs/", csp_violations, ".swagger-ui .opblock")
    assert "'nonce-" in policy  # the page's one inline style carries the request's nonce
    assert "Curio API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator('script[src*="script="]').count() == 1  # Swagger UI's start script is a file too
    page.locator(".opblock-summary").first.click()  # an operation opens (Swagger UI's own scripts run)
    page.wait_for_selector(".opblock.is-open")
    assert csp_violations == []


def test_admin_pages_work_under_the_csp(demo_shop, live_server_url, page, csp_violations):
    User.objects.create_superuser(ADMIN_USER, password=ADMIN_PASSWORD)
    item = Item.objects.order_by("item_id").first()
    rule = rule_create(kind="pin", data={"item_id": item.item_id, "position": 1, "placement": "home"},
                       actor=f"admin:{ADMIN_USER}")
    feedback_create(user_id=Shopper.objects.order_by("user_id").first().user_id, item_id=item.item_id,
                    type="report", comment="Arrived broken")
    versions = [ModelVersion.objects.create(kind="ease", metrics={"ndcg@10": 0.1 + k / 20, "coverage": 0.4},
                                            baseline_metrics={"ndcg@10": 0.08, "coverage": 0.1}) for k in range(2)]

    base = live_server_url
    visit(page, f"{base}/admin/login/?next=/admin/", csp_violations, "#id_username")
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#merch-landing")
    assert csp_violations == []

    pages = [
        ("/admin/", "#merch-landing"),
        ("/admin/curation/rule/", "#result_list .rule-status"),
        ("/admin/curation/rule/add/?kind=pin", "#id_position"),
        ("/admin/curation/rule/add/?kind=diversity", ".key-value"),
        ("/admin/curation/rule/board/?placement=home&limit=5&holdout_share=0", "#curated-list"),
        ("/admin/curation/rule/preview/?list_type=popular&placement=home&limit=5", "#curated-list"),
        ("/admin/recsys/trainingrun/", "#content"),
        ("/admin/recsys/modelversion/", "#version-charts svg"),
        (f"/admin/recsys/modelversion/{versions[-1].pk}/card/", "#content h2"),
        ("/admin/recsys/feedback/", ".curio-review-item"),
        ("/admin/recsys/impression/", "svg.curio-impact-chart"),
        (f"/admin/curation/rule/{rule.pk}/history/", "#change-history"),  # django-simple-history's page
        ("/admin/django_celery_beat/periodictask/add/", "#periodic-task-overrides"),  # its script has the nonce
        ("/admin/axes/accessattempt/", "#content"),
        ("/admin/recsys/apiclient/add/", "#id_name"),
    ]
    for path, ready in pages:
        visit(page, base + path, csp_violations, ready)
        if path == "/admin/curation/rule/":
            # Styles that were attributes now come from recsys/static/recsys/admin.css.
            assert colour(page, ".rule-status-active", "backgroundColor") == "rgb(30, 126, 52)"
        elif path == "/admin/curation/rule/add/?kind=pin":
            assert "curio-narrow" in page.get_attribute("#id_position", "class")
        elif path == "/admin/recsys/modelversion/":
            assert colour(page, ".curio-legend-model") == "rgb(13, 110, 253)"

    # A new API client: its token is shown once on the page, from the session, never stored in a cookie.
    page.fill("#id_name", "csp-browser-client")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .warning")
    message = page.locator(".messagelist .warning").inner_text()
    client = ApiClient.objects.get(name="csp-browser-client")
    token = message.rsplit(" ", 1)[-1].strip()
    assert token.startswith(client.key_prefix) and len(token) > 20
    assert all(token not in cookie["value"] for cookie in page.context.cookies())
    assert csp_violations == []
