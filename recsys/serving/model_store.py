"""The active model as each serving process sees it: loaded once, memory-mapped, hot-swapped.

`active_model()` reads the model state (recsys.training.stored_versions: the model stamp looked at once per
CURIO_MODEL_POLL_SECONDS, nothing per request) and, when the active version or its revision moved, loads it
from this host's copy (fetched from the artifact store first if the host lacks it) with `mmap_mode="c"`: the
arrays stay in the OS page cache, shared by all gunicorn workers of the host (copy-on-write only if implicit
ever wrote to them). A version that cannot be fetched (the store down) leaves the loaded one serving; one that
cannot be loaded is fetched once more with its checksums verified, then logged, and serving falls back to
popular lists (None here); either is retried after a while.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from threadpoolctl import threadpool_limits

from recsys.ml import artifacts, content, model_kinds
from recsys.ml.matrix import WeightConfig
from recsys.serving.content_lists import ContentView, content_view
from recsys.serving.fold_in_weights import weight_config
from recsys.training import stored_versions

log = logging.getLogger(__name__)
RETRY_FAILED_SECONDS = 30.0
RETRY_FETCH_SECONDS = 2.0
WAIT_FOR_SYNC_SECONDS = 0.05


class IdIndex:
    """id string -> row. A plain dict: ~100 B per item per process, and a lookup costs ~0.1 us
    (serving needs no user index at all: shoppers are folded in from their history)."""

    def __init__(self, ids: np.ndarray):
        self._rows = {key: row for row, key in enumerate(ids.tolist())}

    def get(self, key: str) -> int | None:
        return self._rows.get(key)

    def __len__(self) -> int:
        return len(self._rows)


@dataclass
class LoadedModel:
    """One loaded version: its artifact (memory-mapped), the id index and the kind's model, which
    does all the scoring (recsys.ml.model_kinds). Serving never asks which kind it is."""

    version: int
    kind: str  # the artifact kind, for logs and health: als | itemknn | ...
    artifact: artifacts.Artifact
    item_index: IdIndex
    kind_model: model_kinds.Model
    weights: WeightConfig = field(default_factory=WeightConfig)
    revision: int = 0
    content: ContentView | None = None  # the version's content index (None: a version written before it)

    def __getattr__(self, name: str):
        """A kind's own serving state (ALS: yty, norm_order) reads through to its model."""
        if name.startswith("__") or name == "kind_model":
            raise AttributeError(name)
        return getattr(self.kind_model, name)

    @property
    def n_items(self) -> int:
        return len(self.artifact.item_ids)

    def item_col(self, item_id: str) -> int | None:
        return self.item_index.get(item_id)

    def array_bytes(self) -> dict[str, int]:
        a = self.artifact
        out = {"sim_data": a.similarity.data.nbytes, "sim_indices": a.similarity.indices.nbytes,
               "sim_indptr": a.similarity.indptr.nbytes, "item_ids": a.item_ids.nbytes}
        if a.item_factors is not None:
            out["item_factors"] = a.item_factors.nbytes
        if a.user_factors is not None:
            out["user_factors"] = a.user_factors.nbytes
        if a.item_factors_by_norm is not None:
            out["item_factors_by_norm"] = a.item_factors_by_norm.nbytes
            out["item_norm_order"] = a.item_norm_order.nbytes
        return out


def _plain(array):
    """An ndarray view of a memory map: same shared pages, without np.memmap's per-index overhead."""
    return None if array is None else np.asarray(array)


def load_model(path: Path, revision: int = 0) -> LoadedModel:
    """Load a version for serving. Raises artifacts.ArtifactError when it is unusable."""
    art = artifacts.load(path, mmap_mode="c")
    art.item_ids, art.user_ids = _plain(art.item_ids), _plain(art.user_ids)
    art.item_factors, art.user_factors = _plain(art.item_factors), _plain(art.user_factors)
    art.item_norm_order, art.item_factors_by_norm = _plain(art.item_norm_order), _plain(art.item_factors_by_norm)
    sim = art.similarity
    sim.data, sim.indices, sim.indptr = _plain(sim.data), _plain(sim.indices), _plain(sim.indptr)
    kind_model = model_kinds.from_artifact(art).prepare_serving()  # per version, not per request
    item_index = IdIndex(art.item_ids)
    # The content index, per version and revision (a catalog refresh is a new revision): recsys.ml.content.
    view = content_view(content.load(path, mmap_mode="c"), item_index.get,
                        content.load_support(path, len(art.item_ids), mmap_mode="c"), time.time())
    return LoadedModel(version=art.version, kind=art.kind, artifact=art, item_index=item_index,
                       kind_model=kind_model, weights=weight_config(art.params or {}), revision=revision,
                       content=view)


class ModelStore:
    """This process's loaded model: swapped when the model state names another version or revision."""

    def __init__(self):
        self._lock = threading.Lock()
        self._model: LoadedModel | None = None
        self._want: tuple | None = None  # (MODEL_DIR, version, revision) the last refresh aimed at
        self._failed_at: float | None = None
        self._retry_after = RETRY_FAILED_SECONDS
        self._limited = False

    def get(self) -> LoadedModel | None:
        state = stored_versions.model_state()  # per process, the stamp looked at once per poll interval
        want = (str(settings.MODEL_DIR), state.active, state.active_revision)
        if want == self._want and (self._failed_at is None
                                   or time.monotonic() - self._failed_at < self._retry_after):
            return self._model
        with self._lock:
            if want != self._want or (self._failed_at is not None
                                      and time.monotonic() - self._failed_at >= self._retry_after):
                self._refresh(want)
            return self._model

    def _refresh(self, want: tuple) -> None:
        self._want = want
        _, version, revision = want
        if version is None:
            self._model, self._failed_at = None, None
            return
        if not self._limited:
            # One BLAS thread per web process: concurrency comes from workers, not matrix ops.
            threadpool_limits(limits=settings.SERVING_NUM_THREADS)
            self._limited = True
        started = time.perf_counter()
        try:
            path = self._local_copy(version, revision)
        except stored_versions.STORE_FAILURES as exc:
            # Keep serving what this process has (a previous version, or popular lists); ask again soon.
            self._failed_at, self._retry_after = time.monotonic(), RETRY_FETCH_SECONDS
            log.error("version %s revision %s cannot be fetched yet; still serving %s: %s: %s", version, revision,
                      f"v{self._model.version}" if self._model else "popular lists", type(exc).__name__, exc)
            return
        if path is None:  # this host's sync thread is fetching it: the loaded version serves meanwhile
            self._failed_at, self._retry_after = time.monotonic(), WAIT_FOR_SYNC_SECONDS
            return
        try:
            try:
                model = load_model(path, revision)
            except artifacts.ArtifactError:
                if not stored_versions.uses_local_cache():
                    raise
                # A damaged local copy: fetch whatever no longer matches its checksum, then load once more.
                model = load_model(stored_versions.local_copy(version, revision, verify=True), revision)
        except Exception as exc:  # noqa: BLE001 - any broken artifact means popular lists, never a 500
            self._model, self._failed_at, self._retry_after = None, time.monotonic(), RETRY_FAILED_SECONDS
            log.error("active model v%s is unusable, serving popular lists: %s", version, exc)
            return
        self._model, self._failed_at = model, None
        log.info("serving model v%s revision %s (%s) from %s, loaded in %.2fs", version, revision, model.kind,
                 path, time.perf_counter() - started)

    def _local_copy(self, version: int, revision: int) -> Path | None:
        """The host's copy to load. With a model loaded and this host's sync thread running, never a download in the
        request path: None until the thread has fetched it. Otherwise (the first model, or no thread) fetched here,
        waiting at most briefly for another process of the host that is fetching it."""
        present = stored_versions.local_copy_present(version, revision)
        if present is not None:
            return present
        if self._model is not None and stored_versions.cache_syncer.running:
            return None
        return stored_versions.local_copy(version, revision, lock_timeout=RETRY_FETCH_SECONDS)

    def loaded(self) -> LoadedModel | None:
        """The model loaded now, without looking at the model state (no database, no Redis)."""
        return self._model


_store = ModelStore()


def loaded_model() -> LoadedModel | None:
    return _store.loaded()


def active_model() -> LoadedModel | None:
    return _store.get()


def reset() -> None:
    global _store
    _store = ModelStore()
    stored_versions.invalidate()
