"""Token authentication, scope permission and per-client throttling for the REST API.

`Authorization: Token <key>`; keys are stored as SHA-256 hashes. A view may set
`required_scope = "read" | "write"`; otherwise safe methods need read and others write.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from .models import ApiClient

READ, WRITE, DEMO = ApiClient.Scope.READ, ApiClient.Scope.WRITE, ApiClient.Scope.DEMO
# Which scopes satisfy a required scope. Kept as data so new scopes slot in.
SCOPE_GRANTS = {READ: {READ, WRITE}, WRITE: {WRITE}}

# The demo scope (the storefront demo page's token, visible to anyone who opens the page) allows only
# these requests, and only for demo shoppers: user ids in the path, in `user_id` parameters or fields,
# and in every event row must start with DEMO_USER_PREFIX.
DEMO_USER_PREFIX = "demo-"  # recsys.demo.USER_PREFIX
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
        client = (
            ApiClient.objects.filter(key_hash=ApiClient.hash_key(key), is_active=True)
            .only("id", "name", "scope", "last_used_at")
            .first()
        )
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        _touch(client)
        return ClientUser(client.pk, client.name, client.scope), client

    def authenticate_header(self, request):
        return self.keyword


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
    """Throttles per API client (rate: API_THROTTLE_RATE, e.g. 6000/min)."""

    scope = "client"

    def get_cache_key(self, request, view):
        user = request.user
        if not isinstance(user, ClientUser):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.client_id}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema (and Swagger UI's Authorize button) how callers authenticate."""

    target_class = ApiTokenAuthentication
    name = "TokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>`, from `manage.py create_api_client NAME [--write]`"}
