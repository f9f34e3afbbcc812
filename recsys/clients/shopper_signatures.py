"""Signed shoppers: proof, made by the shop's backend, that a browser speaks for one shopper.

Read and demo tokens are public (they live in web pages), so a shopper id they send proves nothing.
The shop's backend, which knows who is logged in, signs the id with its API client's signing secret
and hands the signature to the page, which sends it in the `Curio-Shopper-Signature` header:

    <expires>.<hex HMAC-SHA256(signing_secret, "<expires>:<user_id>")>

`expires` is a Unix time in seconds. Taken from Algolia's secured API keys (an HMAC-SHA256 over the
restriction, a `validUntil` inside what is signed, made without a round trip by the backend) and
Recombee's public tokens (the secret never leaves the server). Pure: no Django.
"""
from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Curio-Shopper-Signature"
META_KEY = "HTTP_CURIO_SHOPPER_SIGNATURE"
DEFAULT_TTL_SECONDS = 3600
MAX_SIGNATURE_LENGTH = 128


def _mac(secret: str, user_id: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"{expires}:{user_id}".encode(), hashlib.sha256).hexdigest()


def sign_shopper(secret: str, user_id: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS, now: float | None = None) -> str:
    """The header value that lets a public token speak for `user_id` until now + ttl_seconds."""
    expires = int(now if now is not None else time.time()) + int(ttl_seconds)
    return f"{expires}.{_mac(secret, user_id, expires)}"


def signature_problem(secret: str, user_id: str, signature: str | None, *, now: float | None = None) -> str | None:
    """None when `signature` is a valid, unexpired signature of `user_id`; else what is wrong with it."""
    if not signature:
        return "missing"
    if len(signature) > MAX_SIGNATURE_LENGTH:
        return "malformed"
    expires_text, _, mac = signature.strip().partition(".")
    if not expires_text.isascii() or not expires_text.isdigit() or len(mac) != 64:
        return "malformed"
    expires = int(expires_text)
    if not hmac.compare_digest(mac.lower(), _mac(secret, user_id, expires)):
        return "invalid"
    if expires < (now if now is not None else time.time()):
        return "expired"
    return None
