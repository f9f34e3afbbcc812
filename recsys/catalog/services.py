"""Shopper writes for serving: merging an anonymous session into the logged-in shopper."""
from __future__ import annotations

from django.db import transaction

from recsys.analytics.models import Impression, RuleImpression
from recsys.catalog.availability import availability_changed
from recsys.catalog.models import Event, Item, Shopper, ShopperAlias
from recsys.errors import NotFound


@transaction.atomic
def items_availability_set(*, item_pks: list[int], available: bool) -> int:
    """Mark items (un)available; every serving process drops or takes them back within a second."""
    changed = Item.objects.filter(pk__in=item_pks).update(available=available)
    availability_changed()
    return changed


class ShopperNotFound(NotFound):
    """No such shopper (merge, export, erasure): the API answers 404 with the message."""


@transaction.atomic
def shopper_merge(*, user_id: str, from_user_id: str) -> dict:
    """Move everything `from_user_id` owns (events, feedback, ...) to `user_id`; idempotent.

    The target is created when it does not exist yet. Consent: the stricter of the two wins, so
    events collected without consent never become personalisation data by a login. The source
    shopper row is removed; merging it again is a no-op that returns the shopper.
    """
    source = Shopper.objects.select_for_update().filter(user_id=from_user_id).first()
    target = Shopper.objects.select_for_update().filter(user_id=user_id).first()
    if source is None and target is None:
        raise ShopperNotFound(f"Neither {user_id!r} nor {from_user_id!r} is a known shopper.")
    moved = 0
    if source is not None:
        if target is None:
            target = Shopper.objects.create(user_id=user_id, personalization_consent=source.personalization_consent)
        elif target.personalization_consent and not source.personalization_consent:
            target.personalization_consent = False
            target.save(update_fields=["personalization_consent", "updated_at"])
        # Every table pointing at Shopper (events, and feedback etc. of other features) follows.
        for rel in Shopper._meta.related_objects:
            if rel.one_to_many:
                count = rel.related_model._base_manager.filter(**{rel.field.name: source}).update(
                    **{rel.field.name: target})
                if rel.related_model is Event:
                    moved = count
        source.delete()
        # Aliases of the source moved with the loop above; the source's own id becomes one too.
        ShopperAlias.objects.update_or_create(alias_user_id=from_user_id, defaults={"shopper": target})
    # Lists served to the session become the shopper's (export and erasure find them by user id);
    # impressions still buffered arrive under the old id, which export and erasure follow as an alias.
    # A session that was only shown lists (no Shopper row) moves too; one merged into someone else
    # keeps its rows for that shopper.
    if not ShopperAlias.objects.filter(alias_user_id=from_user_id).exclude(shopper=target).exists():
        Impression.objects.filter(user_id=from_user_id).update(user_id=user_id)
        RuleImpression.objects.filter(user_id=from_user_id).update(user_id=user_id)
    return {"user_id": target.user_id, "personalization_consent": target.personalization_consent,
            "merged_from": from_user_id, "moved_events": moved,
            "events": Event.objects.filter(shopper=target).count()}
