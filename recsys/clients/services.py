from django.db import transaction

from recsys.clients.models import ApiClient


@transaction.atomic
def api_client_create(*, name: str, scope: str = ApiClient.Scope.READ) -> tuple[ApiClient, str]:
    """Create a client and return it with its plain token (shown once, never stored)."""
    if scope not in ApiClient.Scope.values:
        raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(ApiClient.Scope.values)}")
    key = ApiClient.generate_key()
    client = ApiClient.objects.create(name=name, scope=scope, key_prefix=key[:8], key_hash=ApiClient.hash_key(key))
    return client, key
