"""Token authentication, scope permission and per-client throttling for the REST API.

`Authorization: Token <key>`; keys are stored as SHA-256 hashes. A view may set
`required_scope = "read" | "write"`; otherwise safe methods need read and others write.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions, throttling

from .models import ApiClient

READ, WRITE = ApiClient.Scope.READ, ApiClient.Scope.WRITE
# Which scopes satisfy a required scope. Kept as data so new scopes slot in.
SCOPE_GRANTS = {READ: {READ, WRITE}, WRITE: {WRITE}}


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
        return user.scope in SCOPE_GRANTS.get(required_scope(request, view), set())


class ClientRateThrottle(throttling.SimpleRateThrottle):
    """Throttles per API client (rate: API_THROTTLE_RATE, e.g. 6000/min)."""

    scope = "client"

    def get_cache_key(self, request, view):
        user = request.user
        if not isinstance(user, ClientUser):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.client_id}
