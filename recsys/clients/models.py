import hashlib
import secrets

from django.db import models


def generate_signing_secret() -> str:
    return secrets.token_urlsafe(32)


class ApiClient(models.Model):
    """A frontend or backend that calls the API. Only a hash of its token is stored."""

    class Scope(models.TextChoices):
        READ = "read", "read (lists, item reads)"
        WRITE = "write", "write (everything)"
        # The storefront demo page's token: lists, item reads, events and feedback for demo shoppers only.
        DEMO = "demo", "demo (storefront demo: lists, events and feedback of demo shoppers)"

    name = models.CharField(max_length=100, unique=True)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    key_prefix = models.CharField(max_length=8, editable=False, help_text="First characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # Signs shopper ids for public (read, demo) tokens: the shop's backend holds it, the browser never sees it
    # (recsys.clients.shopper_signatures). Stored in clear: verifying an HMAC needs the key itself.
    signing_secret = models.CharField(max_length=64, default=generate_signing_secret, editable=False,
                                      help_text="Secret the shop's backend signs shopper ids with.")
    is_active = models.BooleanField(default=True, help_text="Untick to revoke the token.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.scope})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate_key() -> str:
        return secrets.token_urlsafe(30)
