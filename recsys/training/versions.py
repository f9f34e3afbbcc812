"""Model versions: activation (also the rollback) and pruning old ones, in the database and the artifact store.

The public entry points are re-exported by recsys.training.services; the run pipeline activates
through here too. Where the files live and how hosts follow: recsys.training.stored_versions.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recsys.training import stored_versions
from recsys.training.models import ModelVersion

log = logging.getLogger(__name__)
ACTIVATION_TRIES = 3


class ActivationError(Exception):
    """A version cannot be activated (not stored, pruned, or the store unreachable); the message says which.
    `retryable`: the store did not answer; the same request may succeed later."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


def model_version_activate(*, version_id: int) -> ModelVersion:
    """Make `version_id` the one active version (also the rollback). Only a version whose manifest the store holds
    at its current revision is activated; a store that does not answer is asked again (ACTIVATION_TRIES) before
    ActivationError. Every process serves it within CURIO_MODEL_POLL_SECONDS of the commit."""
    for attempt in range(1, ACTIVATION_TRIES + 1):
        try:
            return _activate(version_id)
        except stored_versions.StoreUnavailable as exc:
            if attempt == ACTIVATION_TRIES:
                raise ActivationError(f"version {version_id} was not activated: {exc} (the active version is "
                                      f"unchanged; try again when the store answers)", retryable=True) from exc
            log.warning("activation of version %s: the store did not answer (try %d): %s", version_id, attempt, exc)
    raise AssertionError("unreachable")


@transaction.atomic
def _activate(version_id: int) -> ModelVersion:
    version = ModelVersion.objects.select_for_update().get(pk=version_id)
    if not version.artifact_path or stored_versions.version_manifest(version.pk, version.revision) is None:
        why = version.rejected_reason and f" (rejected: {version.rejected_reason})"
        raise ActivationError(f"version {version.pk} is not in the artifact store{why or ' (pruned?)'}")
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])
    stored_versions.models_changed()
    return version


def model_versions_prune(*, keep: int | None = None) -> list[int]:
    """Delete all but the newest `keep` stored versions (never the active one) from the store and this host's
    cache; other hosts drop their copies at their next sync. A delete the store refuses is left to the sweep."""
    keep = settings.TRAINING_RETAIN_VERSIONS if keep is None else keep
    saved = list(ModelVersion.objects.exclude(artifact_path="").order_by("-created_at", "-pk")
                 .values_list("pk", "is_active"))
    pruned = []
    for pk, is_active in saved[keep:]:
        if is_active:
            continue
        with transaction.atomic():
            if not ModelVersion.objects.filter(pk=pk, is_active=False).update(artifact_path=""):
                continue
            stored_versions.models_changed()
        pruned.append(pk)
        try:
            stored_versions.version_delete(pk)
        except stored_versions.StoreUnavailable as exc:
            log.warning("pruned version %s not deleted from the store yet (the sweep retries): %s", pk, exc)
    return pruned
