"""Token authentication, scope permission and per-client throttling for the REST API.

`Authorization: Token <key>`; keys are stored as SHA-256 hashes. A view may set
`required_scope = "read" | "write"`; otherwise safe methods need read and others write.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from recsys.catalog.limits import DEMO_USER_PREFIX
from recsys.clients.models import ApiClient

READ, WRITE, DEMO = ApiClient.Scope.READ, ApiClient.Scope.WRITE, ApiClient.Scope.DEMO
# Which scopes satisfy a required scope. Kept as data so new scopes slot in.
SCOPE_GRANTS = {READ: {READ, WRITE}, WRITE: {WRITE}}

# The demo scope (the storefront demo page's token, visible to anyone who opens the page) allows only
# these requests, and only for demo shoppers: user ids in the path, in `user_id` parameters or fields,
# and in every event row must start with DEMO_USER_PREFIX.
DEMO_REQUESTS = (
    ("GET", re.compile(r"^/api/v1/users/(?P<user_id>[^/]+)/recommendations/$")),
    ("GET", re.compile(r"^/api/v1/items/[^/]+/similar/$")),
    ("GET", re.compile(r"^/api/v1/items/[^/]+/$")),
    ("GET", re.compile(r"^/api/v1/popular/$")),
    ("POST", re.compile(r"^/api/v1/recommendations/basket/$")),
    ("POST", re.compile(r"^/api/v1/events/$")),
    ("POST", re.compile(r"^/api/v1/users/(?P<user_id>[^/]+)/feedback/$")),
)


def demo_allows(request) -> bool:
    for method, pattern in DEMO_REQUESTS:
        match = pattern.match(request.path)
        if match is None or request.method != method:
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
        return all(isinstance(u, str) and u.startswith(DEMO_USER_PREFIX) for u in user_ids)
    return False


@dataclass(frozen=True)
class ClientUser:
    """What `request.user` is for API calls: the client, not a Django user."""

    client_id: int
    name: str
    scope: str
    is_authenticated: bool = True
    is_staff: bool = False

    @property
    def pk(self) -> int:
        return self.client_id


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Token <key>'.")
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
            .only("id", "name", "scope", "last_used_at")
            .first()
        )
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        _touch(client)
        user = ClientUser(client.pk, client.name, client.scope)
        _remember(key_hash, user)
        return user, None  # request.auth: nothing reads it, and a cache hit has no row

    def authenticate_header(self, request):
        return self.keyword


# Per-process token cache: key hash -> (monotonic expiry, ClientUser). A token lookup was a DB round
# trip on every request (a third of a list request's DB time); with the cache it is one per client,
# process and CURIO_TOKEN_CACHE_SECONDS. Only valid tokens are cached. A revoked token keeps working in
# other processes until its entry expires (at most that many seconds); the revoking process calls
# token_cache_clear() so it takes effect there at once.
_token_cache: dict[str, tuple[float, ClientUser]] = {}
_token_cache_lock = threading.Lock()
TOKEN_CACHE_MAX = 10_000  # valid tokens only, so this is a bound on clients, not on attackers


def _cached_user(key_hash: str) -> ClientUser | None:
    hit = _token_cache.get(key_hash)
    if hit is None or hit[0] <= time.monotonic():
        return None
    return hit[1]


def _remember(key_hash: str, user: ClientUser) -> None:
    ttl = settings.TOKEN_CACHE_SECONDS
    if ttl <= 0:
        return
    with _token_cache_lock:
        if len(_token_cache) >= TOKEN_CACHE_MAX:
            _token_cache.clear()
        _token_cache[key_hash] = (time.monotonic() + ttl, user)


def token_cache_clear() -> None:
    """Forget every cached token of this process (call after revoking or changing a client)."""
    with _token_cache_lock:
        _token_cache.clear()


def _touch(client: ApiClient) -> None:
    # At most one write a minute per client: last_used_at is for the admin, not an audit log.
    now = timezone.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)


def required_scope(request, view) -> str:
    explicit = getattr(view, "required_scope", None)
    if isinstance(explicit, dict):
        explicit = explicit.get(request.method)
    if explicit:
        return explicit
    return READ if request.method in permissions.SAFE_METHODS else WRITE


class HasScope(permissions.BasePermission):
    message = "This token's scope does not allow this request; a write-scope token is needed."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not isinstance(user, ClientUser):
            raise exceptions.NotAuthenticated("Send 'Authorization: Token <key>' (see create_api_client).")
        if user.scope == DEMO:
            return demo_allows(request)
        return user.scope in SCOPE_GRANTS.get(required_scope(request, view), set())


class ClientRateThrottle(throttling.SimpleRateThrottle):
    """Throttles per API client (rate: API_THROTTLE_RATE, e.g. 6000/min).

    A sliding-window counter: a counter per client and fixed window (cache add + incr, atomic in
    Redis), the previous window's count weighted by how much of it still overlaps the last
    `duration` seconds. DRF's default keeps a list of every request time and pickles it both ways
    on each request: at 100 requests/s a 6,000-entry list, ~0.3 ms per request and growing with
    the rate (over the network with Redis). Refused requests are not counted.
    """

    scope = "client"

    def get_cache_key(self, request, view):
        user = request.user
        if not isinstance(user, ClientUser):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.client_id}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = now = self.timer()
        window = int(now // self.duration)
        self.window_left = (window + 1) * self.duration - now
        key, previous = f"{self.key}:{window}", f"{self.key}:{window - 1}"
        self.cache.add(key, 0, timeout=2 * self.duration + 1)  # kept while the next window weighs it
        try:
            count = self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, timeout=2 * self.duration + 1)
            count = 1
        overlap = self.window_left / self.duration
        if self.cache.get(previous, 0) * overlap + count <= self.num_requests:
            return True
        self.cache.decr(key)
        return False

    def wait(self):
        return self.window_left


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema (and Swagger UI's Authorize button) how callers authenticate."""

    target_class = ApiTokenAuthentication
    name = "TokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>`, from `manage.py create_api_client NAME [--write]`"}
