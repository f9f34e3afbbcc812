from django.db import transaction

from recsys.clients.models import ApiClient
from recsys.clients.shopper_signatures import DEFAULT_TTL_SECONDS, sign_shopper


@transaction.atomic
def api_client_create(*, name: str, scope: str = ApiClient.Scope.READ) -> tuple[ApiClient, str]:
    """Create a client and return it with its plain token (shown once, never stored)."""
    if scope not in ApiClient.Scope.values:
        raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(ApiClient.Scope.values)}")
    key = ApiClient.generate_key()
    client = ApiClient.objects.create(name=name, scope=scope, key_prefix=key[:8], key_hash=ApiClient.hash_key(key))
    return client, key


def api_client_signing_secret(*, name: str) -> str:
    """The client's signing secret (for the shop's backend to sign shopper ids). Raises ApiClient.DoesNotExist."""
    return ApiClient.objects.values_list("signing_secret", flat=True).get(name=name)


def shopper_signature_create(*, client_name: str, user_id: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
    """A Curio-Shopper-Signature value for `user_id`, signed with the named client's secret."""
    return sign_shopper(api_client_signing_secret(name=client_name), user_id, ttl_seconds=ttl_seconds)
