"""Shoppers' control over their data: consent, export, erasure, retention; and a login merging a session's
data into the shopper (it moves rows of every domain, so it sits here, above catalog and analytics)."""
from __future__ import annotations

import logging
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from curation.services import segments_forget_users
from recsys.analytics.models import Impression, RuleImpression
from recsys.catalog.models import ErasureReceipt, Event, Shopper, ShopperAlias
from recsys.catalog.selectors import erasure_key
from recsys.catalog.services import ShopperNotFound
from recsys.core.errors import Unavailable
from recsys.feedback.models import Feedback
from recsys.ml import artifact_erasure
from recsys.ml.artifact_store import LockTimeout, StoreUnavailable
from recsys.ml.artifacts import ArtifactError
from recsys.training.stored_versions import model_versions_erase, store_sweep

logger = logging.getLogger("curio.privacy")


def _no_data(user_id: str) -> str:
    return f"No data is stored for shopper {user_id!r}."


def user_hash(user_id: str) -> str:
    """The receipts' key for a shopper (the one recsys.catalog.selectors.erased_since reads them by)."""
    return erasure_key(user_id)


@transaction.atomic
def shopper_set_consent(*, user_id: str, consent: bool) -> Shopper:
    """Creates the shopper if unknown, so a refusal given before any event is kept."""
    shopper, created = Shopper.objects.select_for_update().get_or_create(
        user_id=user_id, defaults={"personalization_consent": consent}
    )
    if not created and shopper.personalization_consent != consent:
        shopper.personalization_consent = consent
        shopper.save(update_fields=["personalization_consent", "updated_at"])
    return shopper


def shopper_export(*, user_id: str) -> dict:
    """Everything stored about one shopper, as JSON-ready data."""
    shopper = Shopper.objects.filter(user_id=user_id).first()
    aliases = sorted(shopper.aliases.values_list("alias_user_id", flat=True)) if shopper else []
    impressions = list(
        Impression.objects.filter(user_id__in=[user_id, *aliases])
        .order_by("created_at", "recommendation_id", "position")
        .values("recommendation_id", "position", "item__item_id", "source", "rule_id", "placement",
                "list_type", "model_version", "is_control", "created_at")
    )
    rule_arms = list(
        RuleImpression.objects.filter(user_id__in=[user_id, *aliases])
        .order_by("created_at", "recommendation_id", "position", "rule_id")
        .values("rule_id", "arm", "recommendation_id", "position", "item__item_id", "created_at")
    )
    if shopper is None and not impressions:
        raise ShopperNotFound(_no_data(user_id))
    events = feedback = []
    if shopper is not None:
        events = list(
            Event.objects.filter(shopper=shopper).order_by("timestamp", "id")
            .values("event_id", "item__item_id", "type", "value", "timestamp", "recommendation_id", "created_at")
        )
        feedback = list(
            Feedback.objects.filter(shopper=shopper).order_by("created_at", "id")
            .values("item__item_id", "type", "comment", "recommendation_id", "status", "created_at")
        )
    rename = {"item__item_id": "item_id"}
    return {
        "user_id": user_id,
        "personalization_consent": shopper.personalization_consent if shopper else True,
        "created_at": shopper.created_at if shopper else None,
        "updated_at": shopper.updated_at if shopper else None,
        "merged_ids": aliases,
        "events": [{rename.get(k, k): v for k, v in row.items()} for row in events],
        "feedback": [{rename.get(k, k): v for k, v in row.items()} for row in feedback],
        "impressions": [{rename.get(k, k): v for k, v in row.items()} for row in impressions],
        # Which curation rules' experiments the shopper's impressions counted in (exposed or holdout).
        "rule_impressions": [{rename.get(k, k): v for k, v in row.items()} for row in rule_arms],
        "exported_at": timezone.now(),
    }


class ErasurePending(Unavailable):
    """The database part is committed, the model part is not (a version's lock timed out, a disk error):
    the receipt stays pending; a retried DELETE or the periodic task finishes it."""

    retry_after = 10


def shopper_erase(*, user_id: str) -> ErasureReceipt:
    """Erase a shopper: database rows in one transaction, then every retained model version.

    The receipt is written in the same transaction: the impression flusher checks it so
    impressions still buffered at erasure time are dropped, and training checks it to scrub
    shoppers erased while it was running. Its `model_completed_at` is set once the model part is
    done; until then the erasure is pending: a retry of the same erasure (a shopper with no data left
    but a pending receipt) finishes the model part instead of answering 404.
    """
    hashed = user_hash(user_id)
    with transaction.atomic():
        shopper = Shopper.objects.select_for_update().filter(user_id=user_id).first()
        # Ids merged into the shopper (anonymous sessions): impressions served under them and model
        # versions trained before the merge still carry them.
        aliases = list(shopper.aliases.values_list("alias_user_id", flat=True)) if shopper else []
        impressions = Impression.objects.filter(user_id__in=[user_id, *aliases]).delete()[0]
        rule_impressions = RuleImpression.objects.filter(user_id__in=[user_id, *aliases]).delete()[0]
        events = feedback = 0
        if shopper is not None:
            events = Event.objects.filter(shopper=shopper).delete()[0]
            feedback = Feedback.objects.filter(shopper=shopper).delete()[0]
            shopper.delete()  # its aliases go with it (cascade)
        pending = None
        if shopper is None and not impressions:
            pending = ErasureReceipt.objects.filter(user_hash=hashed, model_completed_at__isnull=True).first()
            if pending is None:
                raise ShopperNotFound(_no_data(user_id))
        else:
            segments = segments_forget_users(user_ids=[user_id, *aliases])
            receipt = ErasureReceipt.objects.create(
                user_hash=hashed, counts={"events": events, "feedback": feedback, "impressions": impressions,
                                          "rule_impressions": rule_impressions, "merged_ids": len(aliases),
                                          "segment_rules": segments}
            )
            # A receipt per merged id too: the impression flusher and training check receipts by id hash.
            ErasureReceipt.objects.bulk_create([ErasureReceipt(user_hash=user_hash(alias),
                                                               counts={"merged_into": hashed}) for alias in aliases])
    # The model part runs after the commit: it takes its own locks, which must cover its own transactions.
    if pending is not None:
        # A retry: the merged ids are known only by hash now, so the rows are matched by hash.
        return erasure_finish_model_part(receipt=pending)
    return erasure_finish_model_part(receipt=receipt, user_ids=[user_id, *aliases])


def erasure_finish_model_part(*, receipt: ErasureReceipt, user_ids: list[str] | None = None) -> ErasureReceipt:
    """Clear the receipt's shopper (and the ids merged into it) from every retained model version, then
    mark it (and its merged ids' receipts) complete. With `user_ids` (the shopper's and merged ids, known
    in the erasure's first request) rows are matched by id; without (a retry, the periodic task) by keyed
    hash. Raises ErasurePending when it fails."""
    merged = list(ErasureReceipt.objects.filter(counts__merged_into=receipt.user_hash, model_completed_at__isnull=True))
    hashes = [receipt.user_hash, *(r.user_hash for r in merged)]
    try:
        if user_ids is not None:
            wanted = np.array(user_ids)
            model_rows = model_versions_erase(lambda ids: np.isin(ids, wanted))
        else:
            key, by_hash = settings.SECRET_KEY, set(hashes)
            model_rows = model_versions_erase(lambda ids: np.fromiter(
                (bool(u) and artifact_erasure.user_hash(str(u), key) in by_hash for u in ids), dtype=bool,
                count=len(ids)))
        # Each version that held the shopper has a new revision without them, the replaced one deleted; every
        # host loads it at its next model poll. (Serving folds shoppers in from their events, which are gone
        # already, and never reads a user row: no host can serve the shopper personal scores meanwhile.)
    except (LockTimeout, StoreUnavailable, ArtifactError, OSError, ValueError) as exc:
        logger.warning("erasure receipt %s user=%s: model part pending (%s: %s)", receipt.pk, receipt.user_hash[:16],
                       type(exc).__name__, exc)
        raise ErasurePending("The shopper's data is erased from the database; removing them from the model "
                             "files did not finish. Send the same DELETE again (or wait for the periodic task) "
                             "to finish it.") from exc
    done = timezone.now()
    counts = receipt.counts
    receipt.counts = {**counts, "model_versions": counts.get("model_versions", 0) + len(model_rows),
                      "model_rows": counts.get("model_rows", 0) + sum(model_rows.values())}
    receipt.model_completed_at = done
    receipt.save(update_fields=["counts", "model_completed_at"])
    ErasureReceipt.objects.filter(pk__in=[r.pk for r in merged]).update(model_completed_at=done)
    logger.info("erasure receipt %s user=%s counts=%s", receipt.pk, receipt.user_hash[:16], receipt.counts)
    return receipt


def erasures_finish_pending(*, limit: int = 100) -> int:
    """The periodic task's work: finish the model part of pending erasures, oldest first (a shopper's
    receipt also finishes the receipts of the ids merged into it); then delete from the artifact store what
    no current revision references (a replaced revision whose deletion failed: erasure means gone)."""
    finished = 0
    pending = ErasureReceipt.objects.filter(model_completed_at__isnull=True).order_by("created_at")
    for pk in list(pending.values_list("pk", flat=True)[:limit]):
        receipt = ErasureReceipt.objects.filter(pk=pk, model_completed_at__isnull=True).first()
        if receipt is None:  # finished with its shopper's receipt
            continue
        try:
            erasure_finish_model_part(receipt=receipt)
        except ErasurePending:
            continue
        finished += 1
    try:
        store_sweep()
    except StoreUnavailable as exc:
        logger.warning("artifact store sweep postponed: %s", exc)
    return finished


def events_purge_expired(*, now=None, max_batches: int | None = None) -> int:
    """Delete events older than EVENT_RETENTION_DAYS in batches of RETENTION_BATCH_SIZE
    (short transactions, so ingestion is never blocked for long). Returns rows deleted."""
    days = settings.EVENT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    size = max(1, settings.RETENTION_BATCH_SIZE)
    total = batches = 0
    while max_batches is None or batches < max_batches:
        ids = list(Event.objects.filter(timestamp__lt=cutoff).order_by("timestamp").values_list("id", flat=True)[:size])
        if not ids:
            break
        with transaction.atomic():
            total += Event.objects.filter(id__in=ids).delete()[0]
        batches += 1
    if total:
        logger.info("retention: purged %s events older than %s days in %s batches", total, days, batches)
    return total


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
