"""Pages answer with a Content-Security-Policy (django-csp): the storefront, the admin login and the API docs,
whose only inline style carries the request's nonce and whose start script is a file (/api/docs/?script=).
The browser side (no violation on any page) is tests/browser/test_csp_browser.py."""
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"


def policy_of(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.status_code
    assert HEADER in response, f"no {HEADER} header"
    directives = [part.strip().split() for part in response[HEADER].split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/", "/admin/login/", "/api/docs/"])
def test_pages_answer_with_a_strict_policy(path):
    policy = policy_of(Client().get(path))
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert "'self'" in policy[directive]
        assert "'unsafe-inline'" not in policy[directive] and "'unsafe-eval'" not in policy[directive]


def test_the_api_docs_inline_style_carries_the_nonce_of_its_response():
    response = Client().get("/api/docs/")
    nonces = [v for v in policy_of(response)["style-src"] if v.startswith("'nonce-")]
    assert len(nonces) == 1
    html = response.content.decode()
    assert f'<style nonce="{nonces[0][len("nonce-") + 1:-1]}">' in html
    # No inline script: Swagger UI's start script is served from the docs URL itself.
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attrs for attrs in scripts)
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_each_response_has_its_own_nonce():
    first, second = (policy_of(Client().get("/api/docs/"))["style-src"] for _ in range(2))
    assert {v for v in first if v.startswith("'nonce-")} != {v for v in second if v.startswith("'nonce-")}
