"""Model versions on disk and in the DB: activation (also the rollback) and pruning old artifacts.

The public entry points are re-exported by recsys.training.services; the run pipeline activates
through here too.
"""
from __future__ import annotations

import logging
import shutil

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recsys.ml import artifacts
from recsys.training.models import ModelVersion

log = logging.getLogger(__name__)


class ActivationError(Exception):
    """A version cannot be activated (artifact pruned or incomplete)."""


@transaction.atomic
def model_version_activate(*, version_id: int) -> ModelVersion:
    """Make `version_id` the one active version (also the rollback). The ACTIVE stamp that serving
    processes watch is written only after the transaction commits."""
    version = ModelVersion.objects.select_for_update().get(pk=version_id)
    if not version.artifact_path or not artifacts.is_complete(version.artifact_path):
        why = version.rejected_reason and f" (rejected: {version.rejected_reason})"
        raise ActivationError(f"version {version.pk} has no complete artifact on disk{why or ' (pruned?)'}")
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])
    model_dir = settings.MODEL_DIR
    transaction.on_commit(lambda: artifacts.write_active_stamp(model_dir, version.pk))
    return version


def active_stamp_reconcile() -> int | None:
    """Make MODEL_DIR/ACTIVE name the database's active version (at start and in /readyz): a crash between
    the activation's commit and the stamp's write, or a stamp restored from a backup, would otherwise
    leave serving on another version. Only a version with a complete artifact is stamped. Returns the
    version written, None when nothing changed."""
    active = ModelVersion.objects.filter(is_active=True).values_list("pk", "artifact_path").first()
    if active is None:
        return None
    pk, path = active
    if artifacts.read_active_stamp(settings.MODEL_DIR) == pk or not path or not artifacts.is_complete(path):
        return None
    log.warning("ACTIVE stamp did not name the active version %s: rewritten", pk)
    artifacts.write_active_stamp(settings.MODEL_DIR, pk)
    return pk


def model_versions_prune(*, keep: int | None = None) -> list[int]:
    """Delete the artifacts of all but the newest `keep` saved versions (never the active one)."""
    keep = settings.TRAINING_RETAIN_VERSIONS if keep is None else keep
    saved = list(ModelVersion.objects.exclude(artifact_path="").order_by("-created_at", "-pk")
                 .values_list("pk", "artifact_path", "is_active"))
    pruned = []
    for pk, path, is_active in saved[keep:]:
        if is_active:
            continue
        if ModelVersion.objects.filter(pk=pk, is_active=False).update(artifact_path=""):
            shutil.rmtree(path, ignore_errors=True)
            pruned.append(pk)
    return pruned
