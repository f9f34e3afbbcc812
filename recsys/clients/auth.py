"""Token authentication, scope permission and per-client throttling for the REST API.

`Authorization: Token <key>` or `Bearer <key>`; keys are stored as SHA-256 hashes.

Every API view declares its scope per method: `required_scope = {"GET": READ, "POST": WRITE, ...}`,
one entry for each method it implements. HEAD and OPTIONS are asked as GET (a view without GET: as its
strictest method), so no method reaches past the scope of the one it mirrors. A method the view does not
implement is left to DRF's 405 for any valid token. A missing entry is a configuration error, never a
fallback: the system check `curio.E001` (`manage.py check`, run by `runserver`, `migrate` and the deploy
checks) names the view, HasScope refuses the request with a 403 for every token (and logs the error), and
tests/clients/test_scope_matrix.py fails. The scope table is in docs/api.md.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from recsys.clients.models import ApiClient
from recsys.clients.rate_budget import budgets
from recsys.clients.shopper_signatures import HEADER as SIGNATURE_HEADER
from recsys.clients.shopper_signatures import META_KEY as SIGNATURE_META_KEY
from recsys.clients.shopper_signatures import signature_problem
from recsys.core.demo_mode import demo_mode_on
from recsys.core.limits import DEMO_ITEM_PREFIX, DEMO_USER_PREFIX
from recsys.ops.lru import TimedLRU
from recsys.ops.redis_state import REDIS_ERRORS, OncePerInterval, circuit

logger = logging.getLogger(__name__)
_throttle_off_log = OncePerInterval(60.0)

READ, WRITE, DEMO = ApiClient.Scope.READ, ApiClient.Scope.WRITE, ApiClient.Scope.DEMO
# Which scopes satisfy a required scope. Kept as data so new scopes slot in.
SCOPE_GRANTS = {READ: {READ, WRITE}, WRITE: {WRITE}}

# The demo scope (the storefront demo page's token, visible to anyone who opens the page) allows only
# these requests, and only for demo shoppers: user ids in the path, in `user_id` parameters or fields,
# and in every event row must start with DEMO_USER_PREFIX. What it writes (events, feedback) must be
# about demo items (ids starting with DEMO_ITEM_PREFIX), at most DEMO_EVENT_BATCH_MAX events a request;
# it has its own low throttle (CURIO_DEMO_THROTTLE_RATE), and outside demo mode its shoppers' events
# count neither in popular lists nor in training.
DEMO_REQUESTS = (
    ("GET", re.compile(r"^/api/v1/users/(?P<user_id>[^/]+)/recommendations/$")),
    ("GET", re.compile(r"^/api/v1/items/[^/]+/similar/$")),
    ("GET", re.compile(r"^/api/v1/items/[^/]+/$")),
    ("GET", re.compile(r"^/api/v1/popular/$")),
    ("POST", re.compile(r"^/api/v1/recommendations/basket/$")),
    ("POST", re.compile(r"^/api/v1/events/$")),
    ("POST", re.compile(r"^/api/v1/users/(?P<user_id>[^/]+)/feedback/$")),
)


DEMO_EVENT_BATCH_MAX = 100  # the demo page sends one event at a time


def demo_allows(request) -> bool:
    for method, pattern in DEMO_REQUESTS:
        match = pattern.match(request.path)
        if match is None or scope_method(request.method) != method:
            continue
        user_ids = [match.groupdict().get("user_id") or ""] if "user_id" in pattern.groupindex else []
        if request.query_params.get("user_id"):
            user_ids.append(request.query_params["user_id"])
        if method == "POST":
            data = request.data
            rows = data if isinstance(data, list) else [data]
            user_ids += [row.get("user_id") for row in rows if isinstance(row, dict) and "user_id" in row]
            if request.path.endswith("/events/") and not (isinstance(data, list) and len(user_ids) == len(data)):
                return False  # every event row must name its (demo) shopper
            if request.path.endswith("/events/") and len(data) > DEMO_EVENT_BATCH_MAX:
                return False
            if not request.path.endswith("/basket/") and not all(
                    isinstance(row, dict) and _is_demo_item(row.get("item_id")) for row in rows):
                return False  # events and feedback: demo items only
        if not all(isinstance(u, str) and u.startswith(DEMO_USER_PREFIX) for u in user_ids):
            return False
        if method == "POST" and not request.path.endswith("/basket/") and not all(
                shopper_verified(request, u) for u in set(user_ids)):
            # Events and feedback speak for a shopper: only with the shop's signature for that shopper.
            raise exceptions.PermissionDenied(
                f"Events and feedback sent with a public token need a {SIGNATURE_HEADER} header signing their "
                "shopper (one shopper per request; see docs/api.md, \"Signed shoppers\").")
        return True
    return False


def shopper_verified(request, user_id: str) -> bool:
    """May this request speak for `user_id`? Write tokens (server to server) may; public tokens (read,
    demo: they live in browsers) only with a valid `Curio-Shopper-Signature` for that id, made by the
    shop's backend with the client's signing secret (recsys.clients.shopper_signatures), unless
    CURIO_SIGNED_SHOPPERS=0."""
    user = request.user
    if not isinstance(user, ClientUser):
        return False
    if user.scope == WRITE or not settings.SIGNED_SHOPPERS:
        return True
    return signature_problem(user.signing_secret, user_id, request.META.get(SIGNATURE_META_KEY)) is None


# Idempotency ids (event_id, feedback_id) sent with the demo token live in their own namespace: the public
# token cannot take an id the shop's backend will send later, nor learn whether the shop stored one.
DEMO_ID_NAMESPACE = "demo-api:"


def scoped_idempotency_id(request, sent_id):
    """The id stored for `sent_id`: the same for server tokens, a digest in the demo namespace for the
    demo token (fixed length, so a valid sent id stays a valid stored id). Not a string: unchanged
    (validation says what is wrong)."""
    user = request.user
    if not isinstance(sent_id, str) or not sent_id or not isinstance(user, ClientUser) or user.scope != DEMO:
        return sent_id
    return DEMO_ID_NAMESPACE + hashlib.sha256(sent_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _is_demo_item(item_id) -> bool:
    return isinstance(item_id, str) and item_id.startswith(DEMO_ITEM_PREFIX)


@dataclass(frozen=True)
class ClientUser:
    """What `request.user` is for API calls: the client, not a Django user."""

    client_id: int
    name: str
    scope: str
    signing_secret: str = field(default="", repr=False)
    is_authenticated: bool = True
    is_staff: bool = False

    @property
    def pk(self) -> int:
        return self.client_id


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() not in (b"token", b"bearer"):  # the key decides, not the prefix
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Token <key>' or 'Bearer <key>'.")
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Token contains invalid characters.") from exc
        key_hash = ApiClient.hash_key(key)
        user = _cached_user(key_hash)
        if user is not None:
            return user, None
        client = (
            ApiClient.objects.filter(key_hash=key_hash, is_active=True)
            .only("id", "name", "scope", "signing_secret", "last_used_at")
            .first()
        )
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        _touch(client)
        user = ClientUser(client.pk, client.name, client.scope, client.signing_secret)
        _remember(key_hash, user)
        return user, None  # request.auth: nothing reads it, and a cache hit has no row

    def authenticate_header(self, request):
        return self.keyword


# Per-process token cache: key hash -> ClientUser. A token lookup was a DB round trip on every request (a
# third of a list request's DB time); with the cache it is one per client, process and
# CURIO_TOKEN_CACHE_SECONDS. Only valid tokens are cached, so the bound is on clients, not on attackers. A
# revoked token keeps working in other processes until its entry expires (at most that many seconds); the
# revoking process calls token_cache_clear() so it takes effect there at once.
TOKEN_CACHE_MAX = 10_000
_token_cache = TimedLRU(TOKEN_CACHE_MAX, lambda: settings.TOKEN_CACHE_SECONDS)


def _cached_user(key_hash: str) -> ClientUser | None:
    return _token_cache.get(key_hash)


def _remember(key_hash: str, user: ClientUser) -> None:
    if settings.TOKEN_CACHE_SECONDS > 0:
        _token_cache.put(key_hash, user)


def token_cache_clear() -> None:
    """Forget every cached token of this process (call after revoking or changing a client)."""
    _token_cache.clear()


def _touch(client: ApiClient) -> None:
    # At most one write a minute per client: last_used_at is for the admin, not an audit log.
    now = timezone.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)


MIRRORED_METHODS = ("HEAD", "OPTIONS")  # asked as GET
_STRICTNESS = {READ: 0, WRITE: 1}


def scope_method(method: str) -> str:
    """The method whose scope a request needs: HEAD and OPTIONS as GET."""
    return "GET" if method in MIRRORED_METHODS else method


def implemented_methods(view) -> list[str]:
    """The methods a view instance handles itself (not HEAD/OPTIONS, which mirror GET)."""
    names = [m for m in view.http_method_names if m.upper() not in MIRRORED_METHODS]
    return [m.upper() for m in names if hasattr(view, m)]


class ScopeUndeclared(ImproperlyConfigured):
    """A view that does not declare its scope for a method it implements."""


def required_scope(request, view) -> str | None:
    """The scope `request` needs on `view`; None for a method the view does not implement (DRF's 405).

    Raises ScopeUndeclared when the view does not declare a scope for a method it implements.
    """
    table = getattr(view, "required_scope", None)
    name = type(view).__name__
    if not isinstance(table, dict):
        raise ScopeUndeclared(f"{name} must declare required_scope = {{method: scope}} per method.")
    implemented = implemented_methods(view)
    method = scope_method(request.method)
    if method == "GET" and "GET" not in implemented and request.method == "OPTIONS" and implemented:
        # OPTIONS on a view without GET (POST-only): its strictest declared method.
        return max((_declared(table, m, name) for m in implemented), key=_STRICTNESS.__getitem__)
    if method not in implemented:
        return None
    return _declared(table, method, name)


def _declared(table: dict, method: str, name: str) -> str:
    scope = table.get(method)
    if scope not in SCOPE_GRANTS:
        raise ScopeUndeclared(f"{name}.required_scope declares no scope (read or write) for {method}.")
    return scope


def undeclared_scopes(view) -> list[str]:
    """What is missing from a view's scope table: one line per problem (none: [])."""
    table = getattr(view, "required_scope", None)
    name = type(view).__name__
    if not isinstance(table, dict):
        return [f"{name} must declare required_scope = {{method: scope}} per method."]
    return [f"{name}.required_scope declares no scope (read or write) for {method}."
            for method in implemented_methods(view) if table.get(method) not in SCOPE_GRANTS]


def _api_views(resolver, prefix: str = ""):
    """(route, view instance) for every DRF view under /api/v1/ (router actions bound as methods)."""
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _api_views(entry, route)
            continue
        cls = getattr(entry.callback, "cls", None)
        if cls is None or not route.startswith("api/v1/"):
            continue
        view = cls(**(getattr(entry.callback, "initkwargs", None) or {}))
        for method, action in (getattr(entry.callback, "actions", None) or {}).items():
            setattr(view, method, getattr(view, action))
        yield route, view


def check_view_scopes(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """System check curio.E001: every /api/v1/ view declares a scope for every method it implements."""
    return [checks.Error(f"/{route}: {problem}", id="curio.E001",
                         hint='Declare it, e.g. required_scope = {"GET": READ, "POST": WRITE} (docs/api.md, "Scopes").')
            for route, view in _api_views(get_resolver()) for problem in undeclared_scopes(view)]


class HasScope(permissions.BasePermission):
    message = "This token's scope does not allow this request; a write-scope token is needed."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not isinstance(user, ClientUser):
            raise exceptions.NotAuthenticated("Send 'Authorization: Token <key>' (see create_api_client).")
        try:
            needed = required_scope(request, view)  # checked for every token: a missing entry is always an error
        except ScopeUndeclared as exc:
            logger.error("scope refused: %s", exc)
            raise exceptions.PermissionDenied(
                f"{request.method} {request.path} declares no scope, so it is refused for every token "
                "(a configuration error, logged).") from exc
        if user.scope == DEMO:
            if not demo_mode_on():
                raise exceptions.PermissionDenied("The demo token works only while the storefront is in demo mode.")
            return demo_allows(request)
        if needed is None:
            return True  # a method the view does not implement: DRF answers 405
        return user.scope in SCOPE_GRANTS[needed]


class ClientRateThrottle(throttling.SimpleRateThrottle):
    """Throttles per API client (rate: API_THROTTLE_RATE, e.g. 6000/min).

    A budget per client and fixed window, shared by every process (Redis) and leased by each process in
    slices it spends locally (recsys.clients.rate_budget): a request costs no round trip of its own,
    except one per request while the client is near its limit. Refused requests are not counted. Like
    any fixed window, a client may spend one window's budget at its end and the next at the start of
    the next window.

    A request counts as `view.throttle_cost(request)` requests where the view defines it (a batch list:
    its number of shoppers), else one. The demo token (public) has its own, low rate: the "demo" rate,
    CURIO_DEMO_THROTTLE_RATE.
    """

    scope = "client"

    def get_cache_key(self, request, view):
        user = request.user
        if not isinstance(user, ClientUser):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.client_id}

    def allow_request(self, request, view):
        user = request.user
        if isinstance(user, ClientUser) and user.scope == DEMO:
            self.scope = "demo"
            self.rate = self.THROTTLE_RATES.get("demo")
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return self.count_request(request, view)

    def count_request(self, request, view) -> bool:
        """Count the request against `self.rate` (a shared budget per fixed window, leased in slices:
        recsys.clients.rate_budget); False when it is over."""
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        if settings.REDIS_URL and circuit.down and not circuit.probe_due():
            # Redis is down: no shared counter to count on, so the throttle fails open (logged once a minute).
            if _throttle_off_log.due():
                logger.warning("throttle off: Redis unreachable, requests are not rate-limited until it is back")
            return True
        cost = getattr(view, "throttle_cost", None)
        cost = max(1, int(cost(request))) if cost is not None else 1
        try:
            allowed, self.window_left = budgets.take(self.key, cost=cost, limit=self.num_requests,
                                                     duration=self.duration, now=self.timer())
        except REDIS_ERRORS as exc:  # fails open, as above; the circuit makes the next requests skip Redis
            circuit.failed(exc)
            return True
        return allowed

    def wait(self):
        return self.window_left


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema (and Swagger UI's Authorize button) how callers authenticate."""

    target_class = ApiTokenAuthentication
    name = "TokenAuth"

    def get_security_definition(self, auto_schema):
        # HTTP bearer: generators (openapi-python-client's AuthenticatedClient, Swagger UI) send
        # `Authorization: Bearer <key>`; `Token <key>` is accepted as well.
        return {"type": "http", "scheme": "bearer",
                "description": "`Authorization: Bearer <key>` (or `Token <key>`), the key from "
                               "`manage.py create_api_client NAME [--write]`"}
