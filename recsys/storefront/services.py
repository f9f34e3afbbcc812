"""Writes the generated demo shop (recsys.storefront.demo_shop) in bulk, idempotently, plus the demo logins."""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from curation.services import merchandiser_group_ensure
from recsys.catalog.models import Event, Item, Shopper
from recsys.clients.models import ApiClient
from recsys.clients.shopper_signatures import sign_shopper
from recsys.ml.events import EVENT_TYPES
from recsys.storefront import demo_shop
from recsys.storefront.selectors import demo_mode_cache_clear

BATCH = 2000
DEMO_CLIENT_NAME = "storefront-demo"
DEMO_SIGNATURE_TTL_SECONDS = 12 * 3600  # a demo page left open for a day asks again


class DemoConflict(Exception):
    """Demo data from another seed or scale is loaded; a reset is needed first."""


@dataclass(frozen=True)
class DemoLoadResult:
    items_created: int
    shoppers_created: int
    events_created: int
    events_total: int
    already_loaded: bool


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    created: bool


def demo_token_ensure() -> str | None:
    """The storefront's demo-scope token, or None when an admin revoked it.

    Derived from SECRET_KEY (so every web process hands out the same token without storing it in
    clear); the API client row holds only its hash, like every token.
    """
    key = base64.urlsafe_b64encode(
        hmac.new(settings.SECRET_KEY.encode(), b"curio-storefront-demo-token", hashlib.sha256).digest()
    ).decode().rstrip("=")
    client, created = ApiClient.objects.get_or_create(
        name=DEMO_CLIENT_NAME,
        defaults={"scope": ApiClient.Scope.DEMO, "key_prefix": key[:8], "key_hash": ApiClient.hash_key(key)},
    )
    if not client.is_active:
        return None
    if client.key_hash != ApiClient.hash_key(key) or client.scope != ApiClient.Scope.DEMO:
        # SECRET_KEY changed (or someone edited the row): re-key it, never widen its scope.
        client.key_prefix, client.key_hash, client.scope = key[:8], ApiClient.hash_key(key), ApiClient.Scope.DEMO
        client.save(update_fields=["key_prefix", "key_hash", "scope"])
    return key


def demo_shopper_signatures(*, user_ids: list[str]) -> dict[str, str]:
    """Signatures (Curio-Shopper-Signature) for demo shoppers, made with the demo client's signing secret:
    on the demo page, Django plays the shop's backend. Every demo visitor may shop as any demo shopper, so
    any demo id is signed; other ids never are (the demo token cannot reach them anyway)."""
    secret = ApiClient.objects.filter(name=DEMO_CLIENT_NAME, is_active=True).values_list(
        "signing_secret", flat=True).first()
    if secret is None:
        return {}
    return {u: sign_shopper(secret, u, ttl_seconds=DEMO_SIGNATURE_TTL_SECONDS)
            for u in user_ids if u.startswith(demo_shop.USER_PREFIX)}


@transaction.atomic
def demo_reset() -> int:
    """Delete demo events, shoppers and items (only demo data; other data stays)."""
    deleted, _ = Event.objects.filter(event_id__startswith=demo_shop.EVENT_PREFIX).delete()
    deleted += Shopper.objects.filter(user_id__startswith=demo_shop.USER_PREFIX).delete()[0]
    deleted += Item.objects.filter(item_id__startswith=demo_shop.ITEM_PREFIX).delete()[0]
    transaction.on_commit(demo_mode_cache_clear)
    demo_mode_cache_clear()
    return deleted


def demo_load(
    *, seed: int, scale: float, now: datetime | None = None, progress: Callable[[str], None] = lambda _: None
) -> DemoLoadResult:
    prefix = demo_shop.event_prefix(seed, scale)
    other = Event.objects.filter(event_id__startswith=demo_shop.EVENT_PREFIX).exclude(event_id__startswith=prefix)
    if other.exists():
        found = other.values_list("event_id", flat=True).first()
        raise DemoConflict(f"demo data from another seed/scale is loaded (e.g. event {found!r}); use --reset")
    shop = demo_shop.generate(seed=seed, scale=scale, now=now or timezone.now().replace(microsecond=0))
    progress(f"generated {len(shop.items)} items, {len(shop.shoppers)} shoppers, {len(shop)} events")
    if Event.objects.filter(event_id__startswith=prefix).count() == len(shop) and (
        Item.objects.filter(item_id__in=[i.item_id for i in shop.items]).count() == len(shop.items)
    ):
        return DemoLoadResult(0, 0, 0, len(shop), already_loaded=True)
    with transaction.atomic():
        item_pks, items_created = _ensure(
            Item, "item_id", [i.item_id for i in shop.items],
            lambda n: Item(item_id=shop.items[n].item_id, title=shop.items[n].title, category=shop.items[n].category,
                           price=shop.items[n].price, attributes=shop.items[n].attributes),
        )
        user_ids = [s.user_id for s in shop.shoppers]
        shopper_pks, shoppers_created = _ensure(Shopper, "user_id", user_ids, lambda n: Shopper(user_id=user_ids[n]))
        progress(f"items +{items_created}, shoppers +{shoppers_created}; writing events")
        before = Event.objects.filter(event_id__startswith=prefix).count()
        for batch in _batches(_event_rows(shop, item_pks, shopper_pks)):
            # Ignoring conflicts on event_id makes a rerun (or a half-loaded earlier run) add only what is missing.
            Event.objects.bulk_create(batch, ignore_conflicts=True)
        created = Event.objects.filter(event_id__startswith=prefix).count() - before
        transaction.on_commit(demo_mode_cache_clear)
    demo_mode_cache_clear()
    return DemoLoadResult(items_created, shoppers_created, created, len(shop), already_loaded=False)


def _ensure(model, key: str, keys: list[str], build: Callable[[int], object]) -> tuple[list[int], int]:
    """Create the rows whose `key` is missing; return pks in the order of `keys` and how many were created."""
    existing = dict(_chunked_lookup(model, key, keys))
    missing = [n for n, k in enumerate(keys) if k not in existing]
    for start in range(0, len(missing), BATCH):
        model.objects.bulk_create([build(n) for n in missing[start:start + BATCH]], ignore_conflicts=True)
    if missing:
        existing = dict(_chunked_lookup(model, key, keys))
    return [existing[k] for k in keys], len(missing)


def _chunked_lookup(model, key: str, keys: list[str]) -> Iterator[tuple[str, int]]:
    for start in range(0, len(keys), BATCH):
        yield from model.objects.filter(**{f"{key}__in": keys[start:start + BATCH]}).values_list(key, "pk")


def _event_rows(shop: demo_shop.DemoShop, item_pks: list[int], shopper_pks: list[int]) -> Iterator[Event]:
    types = EVENT_TYPES
    prefix = shop.event_prefix
    stamps = shop.now.timestamp() - shop.ev_seconds_ago
    tz = shop.now.tzinfo
    for n in range(len(shop)):
        yield Event(
            event_id=f"{prefix}{n}",
            shopper_id=shopper_pks[shop.ev_shopper[n]],
            item_id=item_pks[shop.ev_item[n]],
            type=types[shop.ev_type[n]],
            value=float(shop.ev_value[n]),
            timestamp=datetime.fromtimestamp(float(stamps[n]), tz=tz),
        )


def _batches(rows: Iterator[Event], size: int = BATCH) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@transaction.atomic
def demo_users_ensure() -> list[DemoLogin]:
    """The admin superuser and a merchandiser with known demo passwords (existing passwords are kept)."""
    User = get_user_model()
    logins = []
    admin, created = User.objects.get_or_create(
        username=demo_shop.ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        admin.set_password(demo_shop.ADMIN_PASSWORD)
        admin.save(update_fields=["password"])
    logins.append(DemoLogin(demo_shop.ADMIN_USERNAME, demo_shop.ADMIN_PASSWORD, "admin (superuser)", created))
    merch, created = User.objects.get_or_create(username=demo_shop.MERCHANDISER_USERNAME, defaults={"is_staff": True})
    if created:
        merch.set_password(demo_shop.MERCHANDISER_PASSWORD)
        merch.save(update_fields=["password"])
    merch.groups.add(_merchandiser_group())
    logins.append(DemoLogin(demo_shop.MERCHANDISER_USERNAME, demo_shop.MERCHANDISER_PASSWORD, "merchandiser", created))
    return logins


def _merchandiser_group() -> Group:
    """The curation app's Merchandiser group with its permissions (restored if a flush emptied it)."""
    return merchandiser_group_ensure()
