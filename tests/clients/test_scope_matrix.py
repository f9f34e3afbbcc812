"""The scope matrix: every route of the URL conf x every method x every scope (none, read, demo, write).

One table (SCOPES below, the same as docs/api.md "Scopes") says which scope each API route needs per
method; HEAD and OPTIONS are asked as GET (OPTIONS on a view without GET: as its strictest method).
The answer must be 401 without a token, 403 for an insufficient scope, and neither otherwise (405
for a method the view does not implement). A route missing from the table, or a view that does not
declare its scope for a method it implements, fails this test: a new view cannot ship without a scope.
Routes outside /api/ (storefront, health, schema, admin) read no token: they never answer 401/403.
"""
from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.urls import get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern, URLPattern, URLResolver
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from recsys.clients.auth import check_view_scopes, implemented_methods, undeclared_scopes
from recsys.clients.services import api_client_create
from tests.conftest import make_client

pytestmark = pytest.mark.django_db

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
SCOPE_NAMES = ("none", "read", "demo", "write")
R, W = "read", "write"
_RULE_LIST = {"GET": R, "POST": W}
_RULE_DETAIL = {"GET": R, "PUT": W, "PATCH": W, "DELETE": W}

# THE table: route (as the URL conf spells it, under /) -> {method: scope}.
SCOPES: dict[str, dict[str, str]] = {
    "api/v1/items/": {"POST": W},
    "api/v1/items/<str:item_id>/": {"GET": R},
    "api/v1/events/": {"POST": W},
    "api/v1/users/<str:user_id>/merge/": {"POST": W},
    "api/v1/users/<str:user_id>/": {"PATCH": W, "DELETE": W},
    "api/v1/users/<str:user_id>/data/": {"GET": W},
    "api/v1/users/<str:user_id>/feedback/": {"POST": W},
    "api/v1/users/<str:user_id>/recommendations/": {"GET": R},
    "api/v1/items/<str:item_id>/similar/": {"GET": R},
    "api/v1/recommendations/basket/": {"POST": R},
    "api/v1/recommendations/batch/": {"POST": R},
    "api/v1/popular/": {"GET": R},
    "api/v1/training-runs/": {"GET": R, "POST": W},
    "api/v1/training-runs/<int:run_id>/": {"GET": R},
    "api/v1/model-versions/": {"GET": R},
    "api/v1/model-versions/<int:version_id>/activate/": {"POST": W},
    **{route: table for kind in ("pins", "blocks", "boosts", "annotations", "diversity")
       for route, table in ((f"api/v1/curation/^{kind}/$", _RULE_LIST),
                            (f"api/v1/curation/^{kind}/(?P<pk>\\d+)/$", _RULE_DETAIL),
                            (f"api/v1/curation/^{kind}/(?P<pk>\\d+)/impact/$", {"GET": R}))},
    "api/v1/suggestions/": {"GET": W},
    **{f"api/v1/suggestions/<int:suggestion_id>/{action}/": {"POST": W} for action in ("accept", "dismiss", "snooze")},
    "metrics": {"GET": W},  # outside /api/v1/, but token-protected (Prometheus text)
}
TOKEN_ROUTES_OUTSIDE_API = {"metrics"}


def needs_token(route: str) -> bool:
    return route.startswith("api/v1/") or route in TOKEN_ROUTES_OUTSIDE_API
# What the demo token (public, in the storefront page) may do, for demo shoppers on demo items only.
DEMO = {
    ("api/v1/users/<str:user_id>/recommendations/", "GET"), ("api/v1/items/<str:item_id>/similar/", "GET"),
    ("api/v1/items/<str:item_id>/", "GET"), ("api/v1/popular/", "GET"),
    ("api/v1/recommendations/basket/", "POST"), ("api/v1/events/", "POST"),
    ("api/v1/users/<str:user_id>/feedback/", "POST"),
}
USER, ITEM = "demo-u1", "demo-sku-0001"
BODIES = {  # bodies the demo token may send (so the matrix checks scopes, not bodies)
    "api/v1/events/": [{"user_id": USER, "item_id": ITEM, "type": "view"}],
    "api/v1/recommendations/basket/": {"item_ids": [ITEM], "user_id": USER},
    "api/v1/users/<str:user_id>/feedback/": {"item_id": ITEM, "type": "not_interested"},
}
VALUES = {"user_id": USER, "item_id": ITEM}


def routes(resolver=None, prefix: str = ""):
    """(route, pattern) for every URL pattern, nested include()s and routers included."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from routes(entry, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def concrete_path(route: str) -> str:
    """A path that resolves to `route`: converters and regex groups filled with sample values."""
    def route_value(match):
        converter, name = match.group(1) or "str", match.group(2)
        return "1" if converter == "int" else VALUES.get(name, "1")

    def regex_value(match):
        name, inner = match.group(1), match.group(2)
        for sample in (VALUES.get(name), "1", "recsys"):
            if sample and re.fullmatch(inner, sample):
                return sample
        return inner.split("|")[0]

    path = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", regex_value, route)
    path = re.sub(r"<(?:(\w+):)?(\w+)>", route_value, path)
    return "/" + path.replace("^", "").replace("$", "").replace("\\", "")


def expected(route: str, method: str, scope: str) -> int | str:
    """401, 403, 405, or "ok" (neither 401 nor 403) for an API route."""
    if scope == "none":
        return 401
    table = SCOPES[route]
    asked = "GET" if method in ("HEAD", "OPTIONS") else method
    if scope == "demo":
        return "ok" if (route, asked) in DEMO else 403
    if asked not in table and method == "OPTIONS":  # a view without GET: its strictest method
        needed = W if W in table.values() else R
    elif asked not in table:
        return 405
    else:
        needed = table[asked]
    return "ok" if scope == W or needed == R else 403


@pytest.fixture
def tokens(db, settings):
    settings.DEMO_MODE = True  # the demo token works only in demo mode (tests/clients/test_public_tokens.py)
    cache.clear()
    return {"none": None, **{scope: make_client(f"matrix-{scope}", scope) for scope in ("read", "demo", "write")}}


def test_every_api_route_is_in_the_one_table_and_every_view_declares_its_scopes():
    api_routes = {route: pattern for route, pattern in routes() if needs_token(route)}
    assert set(api_routes) == set(SCOPES), "add the new route to SCOPES (and docs/api.md)"
    for route, pattern in api_routes.items():
        view = _view_instance(pattern)
        declared = getattr(view, "required_scope", None)
        assert isinstance(declared, dict), f"{route}: required_scope must be a dict per method"
        assert {m: declared.get(m) for m in implemented_methods(view)} == SCOPES[route], route


def _view_instance(pattern: URLPattern):
    callback = pattern.callback
    cls = callback.cls
    view = cls(**getattr(callback, "initkwargs", {}))
    for method, action in (getattr(callback, "actions", None) or {}).items():
        setattr(view, method, getattr(view, action))
    return view


def test_scope_matrix(tokens):
    anonymous = APIClient()
    checked = 0
    for route, pattern in routes():
        assert isinstance(pattern.pattern, RoutePattern | RegexPattern)
        path = concrete_path(route)
        for scope in SCOPE_NAMES:
            api = tokens[scope] or anonymous
            for method in METHODS:
                body = BODIES.get(route, {})
                kwargs = {} if method in ("GET", "HEAD", "OPTIONS", "DELETE") else {"data": body, "format": "json"}
                status = getattr(api, method.lower())(path, **kwargs).status_code
                checked += 1
                if not needs_token(route):
                    assert status not in (401, 403), (route, method, scope, status)
                    continue
                want = expected(route, method, scope)
                where = (path, method, scope, status, want)
                if want == "ok":
                    assert status not in (401, 403, 405) and status < 500, where
                else:
                    assert status == want, where
    assert checked >= len(SCOPES) * len(METHODS) * len(SCOPE_NAMES)


@pytest.mark.parametrize(("route", "path"), [
    ("api/v1/curation/^pins/(?P<pk>\\d+)/impact/$", "/api/v1/curation/pins/1/impact/"),
    ("api/v1/users/<str:user_id>/data/", "/api/v1/users/demo-u1/data/"),
    ("api/v1/training-runs/<int:run_id>/", "/api/v1/training-runs/1/"),
])
def test_concrete_paths(route, path):
    assert concrete_path(route) == path


def test_the_system_check_passes_for_the_url_conf():
    assert check_view_scopes() == []


def test_a_view_without_a_scope_entry_is_refused_for_every_token_and_named_by_the_check(db, caplog):
    class Undeclared(APIView):
        required_scope = {"GET": R}  # no entry for POST

        def get(self, request):
            return Response({"ok": True})

        def post(self, request):
            return Response({"ok": True})

    class NoTable(APIView):
        def get(self, request):
            return Response({"ok": True})

    factory = APIRequestFactory()
    for scope in ("read", "demo", "write"):
        _, key = api_client_create(name=f"undeclared-{scope}", scope=scope)
        for view, method in ((Undeclared, "post"), (NoTable, "get"), (NoTable, "head")):
            request = getattr(factory, method)("/api/v1/undeclared/", HTTP_AUTHORIZATION=f"Token {key}")
            resp = view.as_view()(request)
            assert resp.status_code == 403 and "declares no scope" in resp.data["detail"], (view, method, scope)
        assert Undeclared.as_view()(factory.get("/api/v1/undeclared/", HTTP_AUTHORIZATION=f"Token {key}")
                                    ).status_code == (200 if scope != "demo" else 403)
    assert "declares no scope" in caplog.text
    assert undeclared_scopes(Undeclared()) == ["Undeclared.required_scope declares no scope (read or write) for POST."]
    assert undeclared_scopes(NoTable()) == ["NoTable must declare required_scope = {method: scope} per method."]
