"""Model versions in the artifact store, and each host's local copies of them.

The database is the source of truth: `ModelVersion.artifact_path` says a version is stored (the manifest was
written), `revision` which revision is current, `is_active` which one is served. Every activation and every
new revision moves the model stamp (`models_changed()`, in the writing transaction); each process looks at
it every CURIO_MODEL_POLL_SECONDS (recsys.ops.stamps: one Redis GET, or a primary-key read) and reloads
`model_state()` only when it moved.

With the default local store MODEL_DIR is the store: nothing is fetched. With `CURIO_ARTIFACT_STORE=s3://...`
MODEL_DIR is this host's cache: `local_copy()` fetches a version (verified, atomically, one process of the
host at a time), and `cache_sync()` — a daemon thread in every web and worker process — keeps the active and
the previously active versions at their current revisions and deletes every other copy, so an erasure's new
revision replaces the old files on every host within seconds and nothing older lingers on disk. The thread is
started by gunicorn's `post_worker_init` (config/gunicorn.conf.py) and the Celery worker's `worker_ready`
(recsys/training/tasks.py); any other process still fetches the active version when it first needs it.
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recsys.catalog.models import ErasureReceipt
from recsys.ml import artifact_erasure
from recsys.ml.artifact_store import (
    LockTimeout,
    Manifest,
    StoreCorrupt,
    StoreUnavailable,
    file_lock,
    local_manifest,
    sizes_match,
    store_from_url,
)
from recsys.ml.artifacts import ArtifactError, npy_bytes
from recsys.ops import metrics
from recsys.ops.stamps import Stamp, StampedValue
from recsys.training.models import ModelStamp, ModelVersion

log = logging.getLogger(__name__)
STAMP_KEY = "training:model-stamp"
LOCKS = ".locks"
# The sweep leaves an unreferenced object this young alone: an upload in progress (a training's version, an
# erasure's revision not committed yet). A version with no stored row gets longer: a training can upload for minutes.
SWEEP_GRACE = timedelta(minutes=5)
UNSTORED_GRACE = timedelta(hours=1)

# --- the store ----------------------------------------------------------------------------------------------------

_store_lock = threading.Lock()
_store: tuple[tuple, object] | None = None


def artifact_store():
    """This process's store, built from the settings (rebuilt when they change, as in tests)."""
    global _store
    key = (settings.ARTIFACT_STORE, str(settings.MODEL_DIR), settings.AWS_ENDPOINT_URL, settings.AWS_REGION,
           settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY)
    current = _store
    if current is not None and current[0] == key:
        return current[1]
    with _store_lock:
        store = store_from_url(settings.ARTIFACT_STORE, root=Path(settings.MODEL_DIR),
                               endpoint=settings.AWS_ENDPOINT_URL, region=settings.AWS_REGION,
                               access_key_id=settings.AWS_ACCESS_KEY_ID,
                               secret_access_key=settings.AWS_SECRET_ACCESS_KEY)
        _store = (key, store)
        return store


def uses_local_cache() -> bool:
    """Versions are fetched into MODEL_DIR from object storage (False: MODEL_DIR is the store)."""
    return not artifact_store().shared_cache


# --- the model stamp ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelState:
    active: int | None = None
    revisions: dict[int, int] = field(default_factory=dict)  # every stored version -> its current revision
    previous: tuple[int, ...] = ()  # the versions active before the active one, latest first (kept in caches)

    @property
    def active_revision(self) -> int | None:
        return None if self.active is None else self.revisions.get(self.active)

    def kept(self) -> dict[int, int]:
        """The versions every host keeps a copy of: the active one and the previous ones, at their revisions."""
        wanted = ([self.active] if self.active is not None else []) + list(self.previous)
        return {v: self.revisions[v] for v in wanted if v in self.revisions}


def _stamp_version() -> int:
    return ModelStamp.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def _load_state() -> ModelState:
    rows = list(ModelVersion.objects.exclude(artifact_path="").order_by("-activated_at", "-pk")
                .values_list("pk", "revision", "is_active", "activated_at"))
    active = next((pk for pk, _, is_active, _ in rows if is_active), None)
    previous = tuple(pk for pk, _, is_active, at in rows if not is_active and at is not None)
    return ModelState(active, {pk: rev for pk, rev, _, _ in rows}, previous[:settings.MODEL_CACHE_PREVIOUS])


_state: StampedValue[ModelState] = StampedValue(
    Stamp(STAMP_KEY, _stamp_version), load=_load_state, interval=lambda: settings.MODEL_POLL_SECONDS,
    empty=ModelState())


def model_state() -> ModelState:
    """The stored versions as this process last saw them (at most CURIO_MODEL_POLL_SECONDS old)."""
    global _confirmed
    state = _state.get()
    if _state.checked_at != _confirmed:  # a stamp check, not every request
        _confirmed = _state.checked_at
        metrics.MODEL_VIEW_CONFIRMED.set(time.time())
    return state


_confirmed = float("-inf")


def models_changed() -> None:
    """Move the model stamp in the current transaction (activation, a new revision, pruning)."""
    _state.bump(ModelStamp, changed_at=timezone.now())


def invalidate() -> None:
    _state.invalidate()


# --- writing versions -------------------------------------------------------------------------------------------

def staging_dir() -> Path:
    """Where training writes a new version: MODEL_DIR itself with the local store; with object storage a folder
    beside the cached versions (`MODEL_DIR/.staging`), so no cache sync evicts it before it is uploaded."""
    model_dir = Path(settings.MODEL_DIR)
    return model_dir if artifact_store().shared_cache else model_dir / ".staging"


def version_store(version: ModelVersion, directory: Path) -> Manifest:
    """Put a freshly written version (from `staging_dir()`) into the store, manifest last, then mark it stored.
    Raises StoreUnavailable (the version stays unstored: it can never be activated half-uploaded)."""
    store = artifact_store()
    started = time.perf_counter()
    manifest = store.put_version(version.pk, directory)
    ModelVersion.objects.filter(pk=version.pk).update(artifact_path=store.location(version.pk), revision=0)
    version.artifact_path, version.revision = store.location(version.pk), 0
    if not store.shared_cache:
        with host_lock(version.pk):  # the writer's copy joins its host's cache (sync evicts it if not kept)
            target = Path(settings.MODEL_DIR) / str(version.pk)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(directory, target)
        metrics.ARTIFACT_UPLOAD_BYTES.inc(manifest.bytes)
        log.info("version %s uploaded to %s: %d files, %.1f MB in %.2fs", version.pk, store.url, len(manifest.files),
                 manifest.bytes / 1e6, time.perf_counter() - started)
    return manifest


def version_unstore(version: ModelVersion, staged: Path) -> None:
    """Undo a failed `version_store` (the upload, or the scrub after it, did not finish): the version is marked not
    stored (never activatable), its staged files go, and its objects are deleted if the store answers (the sweep
    deletes them later otherwise)."""
    ModelVersion.objects.filter(pk=version.pk).update(artifact_path="")
    version.artifact_path = ""
    store = artifact_store()
    if store.shared_cache:
        return  # the staged directory is the version's own folder in MODEL_DIR, left as an unstored one
    shutil.rmtree(staged, ignore_errors=True)
    shutil.rmtree(Path(settings.MODEL_DIR) / str(version.pk), ignore_errors=True)
    try:
        store.delete_version(version.pk)
    except StoreUnavailable as exc:
        log.warning("objects of unstored version %s left for the sweep: %s", version.pk, exc)


def version_manifest(version_id: int, revision: int) -> Manifest | None:
    """The version's manifest at `revision` in the store (None: not there). Raises StoreUnavailable."""
    return artifact_store().manifest(version_id, revision)


def version_delete(version_id: int) -> None:
    """Delete a pruned version from the store and from this host's cache (other hosts drop theirs on sync)."""
    store = artifact_store()
    store.delete_version(version_id)
    if not store.shared_cache:
        shutil.rmtree(Path(settings.MODEL_DIR) / str(version_id), ignore_errors=True)


# --- erasure: a new revision without the shopper's rows ----------------------------------------------------------

def model_versions_erase(match: Callable[[np.ndarray], np.ndarray], *, only: list[int] | None = None
                         ) -> dict[str, int]:
    """Clear the user rows `match` selects (a vectorised predicate over a version's user ids) from every stored
    version (or those in `only`): each that had some gets a new revision (`version_revise`: its ids and user
    factors rewritten, the other files shared, one erasure per version at a time). {version id: rows cleared}.
    Raises StoreUnavailable or LockTimeout; nothing is recorded for that version then."""
    store = artifact_store()
    out: dict[str, int] = {}
    stored = ModelVersion.objects.exclude(artifact_path="").order_by("pk")
    if only is not None:
        stored = stored.filter(pk__in=only)
    for pk in list(stored.values_list("pk", flat=True)):
        cleared: dict[int, int] = {}

        def change(base: Manifest, pk: int = pk, cleared: dict = cleared) -> dict[str, bytes] | None:
            if "user_ids.npy" not in base.files:
                raise ArtifactError(f"version {pk} revision {base.revision} has no user ids in {store.url}")
            ids = np.load(io.BytesIO(store.read(base.files["user_ids.npy"].key)))
            rows = np.flatnonzero(match(ids))
            if rows.size == 0:
                return None
            entry = base.files.get("user_factors.npy")
            factors = np.load(io.BytesIO(store.read(entry.key))) if entry is not None else None
            ids, factors = artifact_erasure.clear_rows(ids, factors, rows)
            cleared[pk] = int(rows.size)
            return {"user_ids.npy": npy_bytes(ids), **({} if factors is None else {"user_factors.npy":
                                                                                   npy_bytes(factors)})}

        if version_revise(pk, change) is not None:
            out[str(pk)] = cleared[pk]
    return out


def version_revise(version_id: int, change: Callable[[Manifest], dict[str, bytes] | None]) -> int | None:
    """Write a new revision of a stored version with the files `change(base manifest)` returns (new or replaced;
    None or {}: nothing to write), under the same locks as an erasure, recorded with the model stamp, the objects
    only the replaced revision held deleted after commit. The new revision, or None (nothing written, or the
    version pruned). One revision of a version at a time: its row lock across hosts, a file lock between the
    processes of a host (SQLite has no row locks). Raises StoreUnavailable or LockTimeout."""
    store = artifact_store()
    with host_lock(version_id, settings.ERASURE_LOCK_TIMEOUT), transaction.atomic():
        version = ModelVersion.objects.select_for_update().filter(pk=version_id).exclude(artifact_path="").first()
        if version is None:
            return None
        base = store.manifest(version_id, version.revision)
        if base is None:
            raise ArtifactError(f"version {version_id} revision {version.revision} is not in {store.url}")
        changed = change(base)
        if not changed:
            return None
        new = store.put_revision(base, changed)
        ModelVersion.objects.filter(pk=version_id).update(revision=new.revision)
        models_changed()
        replaced = _keys(store, base) - _keys(store, new)
        transaction.on_commit(lambda: _delete_quietly(store, replaced))
        return new.revision


def scrub_erased(directory: Path, *, since) -> int:
    """Clear from a freshly written, not yet stored version every shopper erased after `since` (the time its
    training read the events)."""
    hashes = _erased_hashes(since)
    return artifact_erasure.scrub_hashes(Path(directory), hashes, settings.SECRET_KEY) if hashes else 0


def scrub_erased_stored(version_id: int, *, since) -> dict[str, int]:
    """The same for a version just stored (a new revision if an erasure slipped in during the upload)."""
    hashes = set(_erased_hashes(since))
    if not hashes:
        return {}
    key = settings.SECRET_KEY
    return model_versions_erase(lambda ids: np.fromiter(
        (bool(u) and artifact_erasure.user_hash(str(u), key) in hashes for u in ids), dtype=bool, count=len(ids)),
        only=[version_id])


def _erased_hashes(since) -> list[str]:
    return list(ErasureReceipt.objects.filter(created_at__gte=since).values_list("user_hash", flat=True))


def _keys(store, manifest: Manifest) -> set[str]:
    return {f.key for f in manifest.files.values()} | {store.manifest_key(manifest.version, manifest.revision)}


def _delete_quietly(store, keys: set[str]) -> None:
    try:
        store.delete(keys)
    except StoreUnavailable as exc:
        log.warning("replaced artifact objects not deleted yet (the sweep retries): %s", exc)


def store_sweep(*, now=None) -> int:
    """Delete what no current revision references: replaced revisions and pruned versions whose deletion failed.
    Nothing younger than SWEEP_GRACE (UNSTORED_GRACE for a version not stored) and no revision newer than the
    database's is touched: those may belong to an upload or an erasure still committing."""
    store = artifact_store()
    if store.shared_cache:
        return 0
    now = now or timezone.now()
    current = dict(ModelVersion.objects.exclude(artifact_path="").values_list("pk", "revision"))
    keep: set[str] = set()
    for pk, revision in current.items():
        manifest = store.manifest(pk, revision)
        if manifest is not None:
            keep |= _keys(store, manifest)
    doomed = []
    for meta in store.objects():
        key, age = meta["path"], now - meta["last_modified"]
        version, revision = _version_of(key), _revision_of(key)
        if key in keep or (version in current and revision is not None and revision > current[version]):
            continue
        if age > (SWEEP_GRACE if version in current else UNSTORED_GRACE):
            doomed.append(key)
    store.delete(doomed)
    return len(doomed)


def _version_of(key: str) -> int | None:
    head = key.split("/", 1)[0]
    return int(head) if head.isdigit() else None


def _revision_of(key: str) -> int | None:
    parts = key.split("/")
    return int(parts[1][1:]) if len(parts) > 2 and parts[1][:1] == "r" and parts[1][1:].isdigit() else None


# --- this host's copies -----------------------------------------------------------------------------------------

def host_lock(version_id: int, timeout: float = 60.0):
    """An flock per version in MODEL_DIR/.locks: one process of this host fetches, edits or evicts it at a time."""
    directory = Path(settings.MODEL_DIR) / LOCKS
    directory.mkdir(parents=True, exist_ok=True)
    return file_lock(directory / f"{version_id}.lock", timeout,
                     f"version {version_id} is locked by another process of this host")


STORE_FAILURES = (StoreUnavailable, StoreCorrupt, LockTimeout, ArtifactError, OSError)


def local_copy_present(version_id: int, revision: int) -> Path | None:
    """This host's directory of the version if it holds `revision` (or later) already; None: not fetched yet."""
    directory = Path(settings.MODEL_DIR) / str(version_id)
    if artifact_store().shared_cache:
        return directory
    have = local_manifest(directory)
    return directory if have is not None and have.revision >= revision else None


def local_copy(version_id: int, revision: int, *, verify: bool = False, lock_timeout: float = 60.0) -> Path:
    """This host's directory of the version at `revision`, fetched if it lacks it (or, with `verify`, if a file
    no longer matches its checksum). Raises one of STORE_FAILURES."""
    store = artifact_store()
    directory = Path(settings.MODEL_DIR) / str(version_id)
    if store.shared_cache:
        return directory
    have = local_manifest(directory)
    if have is not None and have.revision == revision and not verify:
        return directory
    with host_lock(version_id, lock_timeout):
        have = local_manifest(directory)
        if have is not None and have.revision == revision and not verify:
            return directory  # another process of this host fetched it meanwhile
        manifest = store.manifest(version_id, revision)
        if manifest is None:
            raise ArtifactError(f"version {version_id} revision {revision} is not in {store.url}")
        transfer = store.fetch(manifest, directory, verify=verify)
    if transfer.files:
        metrics.ARTIFACT_DOWNLOADS.inc(transfer.files)
        metrics.ARTIFACT_DOWNLOAD_BYTES.inc(transfer.bytes)
        metrics.ARTIFACT_DOWNLOAD_SECONDS.inc(transfer.seconds)
        log.info("version %s revision %s fetched from %s: %d files, %.1f MB in %.2fs%s", version_id, revision,
                 store.url, transfer.files, transfer.bytes / 1e6, transfer.seconds,
                 f" ({transfer.refetched} refetched after a checksum mismatch)" if transfer.refetched else "")
    return directory


def cached_versions() -> list[int]:
    model_dir = Path(settings.MODEL_DIR)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def cache_sync(state: ModelState | None = None) -> None:
    """Bring this host's cache to the model state: the kept versions at their current revisions (fetched), every
    other copy deleted. Raises StoreUnavailable (what could be done is done; the next sync retries)."""
    if not uses_local_cache():
        return
    state = state or model_state()
    kept = state.kept()
    for version_id in cached_versions():
        if version_id not in kept:
            with host_lock(version_id):
                shutil.rmtree(Path(settings.MODEL_DIR) / str(version_id), ignore_errors=True)
    for version_id, revision in kept.items():
        directory = Path(settings.MODEL_DIR) / str(version_id)
        have = local_manifest(directory)
        # A file whose size no longer matches (a partial write, a damaged disk): fetched again, checksums verified.
        damaged = have is not None and have.revision == revision and not sizes_match(directory, have)
        local_copy(version_id, revision, verify=damaged)
    metrics.MODEL_CACHE_VERSIONS.set(len(cached_versions()))


PING_SECONDS = 5.0


class CacheSync:
    """The daemon thread that runs `cache_sync()` every CURIO_MODEL_POLL_SECONDS in a process (started once per
    process, only with object storage): hosts follow activations and erasures without waiting for a request. It
    also pings the store every PING_SECONDS; `last_error` (None: fine) is what /readyz reports."""

    def __init__(self):
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.last_error: str | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._pid == os.getpid() and self._thread.is_alive()

    def start(self) -> None:
        if self.running or not uses_local_cache():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="curio-model-cache-sync", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from django.db import close_old_connections

        pinged = float("-inf")
        while True:
            try:
                cache_sync()
                if time.monotonic() - pinged >= PING_SECONDS:  # /readyz reports the store from this
                    pinged = time.monotonic()
                    artifact_store().ping()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - the loop must survive a store or database outage
                if self.last_error is None:
                    log.warning("model cache sync failed (retrying every %ss): %s", settings.MODEL_POLL_SECONDS, exc)
                self.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                close_old_connections()
            time.sleep(max(0.1, settings.MODEL_POLL_SECONDS))


cache_syncer = CacheSync()
