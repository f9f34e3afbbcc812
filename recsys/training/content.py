"""The content index of a model version (recsys.ml.content): written at training, refreshed without retraining.

Training writes it beside the model's arrays (`content_write`, before the version is stored). After that the
catalog moves on: a new item or a changed title, category or attribute moves the catalog's content fingerprint
(recsys.catalog.selectors.content_fingerprint, a hash of those fields; prices and availability do not count).
`content_refresh()` — the periodic task `recsys.tasks.refresh_content` (every minute, django-celery-beat) and
`manage.py refresh_content` — compares it with the one the active version's index was built from and, when they
differ, rebuilds the index from the whole catalog (one refresh at a time in the deployment; a slower one never
overwrites an index built from a later read) and writes it as a new revision of the active version
(stored_versions.version_revise: the model stamp moves in the same transaction), so every host serves the new
items' content lists within CURIO_MODEL_POLL_SECONDS, memory-mapped like the rest of the version.
"""
from __future__ import annotations

import io
import logging
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from recsys.catalog.selectors import available_item_ages, content_fingerprint, item_texts
from recsys.ml import content, content_build
from recsys.training import stored_versions
from recsys.training.models import ModelVersion

log = logging.getLogger(__name__)


REFRESH_LOCK = "training:content-refresh"
REFRESH_LOCK_SECONDS = 1800  # longer than any build; released when the refresh ends


def catalog_content_index(texts: list[tuple], support: dict[str, int] | None = None, *,
                          read_at: float | None = None) -> content.ContentIndex:
    """The content index of `texts` (item_texts(), read at `read_at`; `support`: the model's interactions
    per item id)."""
    items = [content_build.ItemText(item_id, title, category or "", attributes or {},
                                    created.timestamp() if created else 0.0)
             for item_id, title, category, attributes, created in texts]
    return content_build.build(items, neighbours=settings.CONTENT_NEIGHBOURS,
                               fingerprint=content_fingerprint(texts),
                               built_at=read_at if read_at is not None else timezone.now().timestamp(),
                               support=support)


def content_write(directory: Path, *, matrix: sp.spmatrix, item_ids: np.ndarray) -> None:
    """Training: the catalog's content index and the model items' support, into the version being written."""
    started = time.perf_counter()
    support = content_build.item_support(matrix)
    index = catalog_content_index(item_texts(), dict(zip(np.asarray(item_ids).tolist(), support.tolist(),
                                                         strict=True)))
    content.save(directory, index, support)
    log.info("content index: %d items, %d terms in %.2fs", len(index), len(index.vocab), time.perf_counter() - started)


def content_refresh(*, force: bool = False) -> int | None:
    """Fold the catalog's new and changed items into the active version's content index, as a new revision.
    The new revision, or None (no active version, or the index is current)."""
    active = ModelVersion.objects.filter(is_active=True).exclude(artifact_path="").values_list("pk", "revision").first()
    if active is None:
        return None
    version_id, revision = active
    if not cache.add(REFRESH_LOCK, os.getpid(), timeout=REFRESH_LOCK_SECONDS):
        return None  # another refresh is running (a slow build must not pile up beat's every-minute runs)
    try:
        return _refresh(version_id, revision, force=force)
    finally:
        cache.delete(REFRESH_LOCK)


def _refresh(version_id: int, revision: int, *, force: bool) -> int | None:
    read_at = timezone.now().timestamp()
    texts = item_texts()
    fingerprint = content_fingerprint(texts)
    store = stored_versions.artifact_store()
    manifest = store.manifest(version_id, revision)
    if not force and manifest is not None and _meta(store, manifest).get("fingerprint") == fingerprint:
        return None
    started = time.perf_counter()
    index = catalog_content_index(texts, _stored_support(store, manifest), read_at=read_at)
    files = content.to_files(index)

    def change(base):
        meta = _meta(store, base)
        if not force and meta.get("fingerprint") == fingerprint:
            return None  # another process refreshed it meanwhile
        if float(meta.get("built_at") or 0) > read_at:
            return None  # built from a later read of the catalog: never go back
        return files

    new = stored_versions.version_revise(version_id, change)
    if new is not None:
        log.info("content index of version %s refreshed as revision %s: %d items in %.2fs", version_id, new,
                 len(index), time.perf_counter() - started)
    return new


def _stored_support(store, manifest) -> dict[str, int] | None:
    """The version's interactions per item id (its item_ids.npy and item_support.npy), None without them."""
    if manifest is None or content.SUPPORT not in manifest.files or "item_ids.npy" not in manifest.files:
        return None
    ids = np.load(io.BytesIO(store.read(manifest.files["item_ids.npy"].key)))
    support = np.load(io.BytesIO(store.read(manifest.files[content.SUPPORT].key)))
    return dict(zip(ids.tolist(), support.tolist(), strict=False)) if len(ids) == len(support) else None


def _meta(store, manifest) -> dict:
    entry = manifest.files.get(content.META)
    return content.read_meta(store.read(entry.key)) if entry is not None else {}


def catalog_coverage(item_ids: np.ndarray) -> dict:
    """A version's coverage of the available catalog, for its model card: of all items, and of the items that are
    not new (first ingested within CURIO_EXPLORATION_MAX_AGE_DAYS and absent from the model)."""
    model_items = set(np.asarray(item_ids).tolist())
    cutoff = timezone.now().timestamp() - settings.EXPLORATION_MAX_AGE_DAYS * 86400
    total = new = known = 0
    for item_id, created in available_item_ages():
        total += 1
        if item_id in model_items:
            known += 1
        elif created is not None and created.timestamp() >= cutoff:
            new += 1
    old = total - new
    return {"catalog_items": total, "new_items": new, "model_items": known,
            "max_age_days": settings.EXPLORATION_MAX_AGE_DAYS,
            "coverage": known / total if total else 0.0, "coverage_excluding_new": known / old if old else 0.0}
