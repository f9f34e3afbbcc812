"""Model artifacts on disk: the contract between training (writer) and serving (reader).

Layout of one version, `MODEL_DIR/<version_id>/`:
    meta.json            {"kind": "als"|"itemknn", "version": int, "params": {...}, "factors": int}
                         (params["kind"]: the kind name, als | bm25 | cosine | ease | rp3beta)
    user_ids.npy         unicode array, row i of user_factors belongs to user_ids[i]
    item_ids.npy         unicode array, column j / row j of item arrays belongs to item_ids[j]
    user_factors.npy     float32 (n_users, k)      ALS only
    item_factors.npy     float32 (n_items, k)      ALS only
    item_norm_order.npy  int64 (n_items,)          ALS: item columns by descending factor norm
    item_factors_by_norm.npy
                         float32 (n_items, k)      ALS: item_factors rows in that order (serving's
                                                   pruned top-k reads it front to back, shared)
    item_weights.npy     float32 (n_items,)        ALS on BM25-weighted confidences: each item's idf
                                                   (fold-in weighs a history as training weighed rows)
    sim_indptr.npy, sim_indices.npy, sim_data.npy
                         CSR (n_items x n_items) top-K item-item similarities (both kinds;
                         for ALS derived from the item factors) used for similar/basket lists
    content_*.npy, content_meta.json, item_support.npy
                         the content index of the catalog (recsys.ml.content), optional: versions
                         written before it serve no content lists
    COMPLETE             written last; a directory without it (or a manifest.json: a copy fetched
                         from the artifact store, recsys.ml.artifact_store) is never loaded

Everything is a plain .npy so readers can `np.load(..., mmap_mode="r")` and gunicorn
workers share the pages through the OS page cache.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

COMPLETE_MARKER = "COMPLETE"


class ArtifactError(Exception):
    """The artifact is missing, incomplete or unreadable."""


@dataclass
class Artifact:
    kind: str
    version: int
    user_ids: np.ndarray
    item_ids: np.ndarray
    similarity: sp.csr_matrix
    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    path: Path | None = None
    # Derived from item_factors by save(); None for versions written before they existed.
    item_norm_order: np.ndarray | None = None
    item_factors_by_norm: np.ndarray | None = None
    item_weights: np.ndarray | None = None  # ALS with BM25 weighting only


def norm_order(item_factors: np.ndarray) -> np.ndarray:
    """Item columns by descending factor norm (ties by column)."""
    return np.argsort(-np.linalg.norm(np.asarray(item_factors, dtype=np.float32), axis=1), kind="stable")


def is_complete(path: Path) -> bool:
    """A version directory whose COMPLETE marker (the writer's) or manifest (a copy fetched from the artifact
    store, recsys.ml.artifact_store) is written: the only kind ever loaded."""
    path = Path(path)
    return (path / COMPLETE_MARKER).exists() or (path / "manifest.json").exists()


def version_dir(model_dir: Path, version: int) -> Path:
    return Path(model_dir) / str(version)


def save(artifact: Artifact, model_dir: Path) -> Path:
    """Write into a temp dir, fsync-free rename into place, COMPLETE last."""
    final = version_dir(model_dir, artifact.version)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "user_ids.npy", np.asarray(artifact.user_ids, dtype=str))
    np.save(tmp / "item_ids.npy", np.asarray(artifact.item_ids, dtype=str))
    sim = artifact.similarity.tocsr()
    # One index dtype for both arrays, so scipy wraps the memory maps without copying.
    index_dtype = np.int32 if sim.nnz < 2**31 - 1 else np.int64
    np.save(tmp / "sim_indptr.npy", sim.indptr.astype(index_dtype))
    np.save(tmp / "sim_indices.npy", sim.indices.astype(index_dtype))
    np.save(tmp / "sim_data.npy", sim.data.astype(np.float32))
    if artifact.user_factors is not None:
        np.save(tmp / "user_factors.npy", np.ascontiguousarray(artifact.user_factors, dtype=np.float32))
    if artifact.item_factors is not None:
        factors = np.ascontiguousarray(artifact.item_factors, dtype=np.float32)
        np.save(tmp / "item_factors.npy", factors)
        order = norm_order(factors)
        np.save(tmp / "item_norm_order.npy", order.astype(np.int64))
        np.save(tmp / "item_factors_by_norm.npy", factors[order])
    if artifact.item_weights is not None:
        np.save(tmp / "item_weights.npy", np.asarray(artifact.item_weights, dtype=np.float32))
    meta = {"kind": artifact.kind, "version": artifact.version, "params": artifact.params,
            "factors": 0 if artifact.item_factors is None else int(artifact.item_factors.shape[1])}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    (final / COMPLETE_MARKER).write_text("ok\n")
    return final


def load(path: Path, mmap_mode: str | None = "r") -> Artifact:
    """Load an artifact memory-mapped. Raises ArtifactError if incomplete or corrupt."""
    path = Path(path)
    if not is_complete(path):
        raise ArtifactError(f"{path}: missing or incomplete artifact")
    try:
        meta = json.loads((path / "meta.json").read_text())
        # ids are memory-mapped too: 200k user ids would otherwise be a private copy per worker.
        item_ids = np.load(path / "item_ids.npy", mmap_mode=mmap_mode)
        n_items = len(item_ids)
        sim = sp.csr_matrix(
            (np.load(path / "sim_data.npy", mmap_mode=mmap_mode),
             np.load(path / "sim_indices.npy", mmap_mode=mmap_mode),
             np.load(path / "sim_indptr.npy", mmap_mode=mmap_mode)),
            shape=(n_items, n_items),
        )
        uf = path / "user_factors.npy"
        itf = path / "item_factors.npy"
        by_norm = (path / "item_norm_order.npy", path / "item_factors_by_norm.npy")
        has_by_norm = all(p.exists() for p in by_norm)
        weights = path / "item_weights.npy"
        return Artifact(
            kind=meta["kind"],
            version=int(meta["version"]),
            user_ids=np.load(path / "user_ids.npy", mmap_mode=mmap_mode),
            item_ids=item_ids,
            similarity=sim,
            user_factors=np.load(uf, mmap_mode=mmap_mode) if uf.exists() else None,
            item_factors=np.load(itf, mmap_mode=mmap_mode) if itf.exists() else None,
            params=meta.get("params", {}),
            path=path,
            item_norm_order=np.load(by_norm[0], mmap_mode=mmap_mode) if has_by_norm else None,
            item_factors_by_norm=np.load(by_norm[1], mmap_mode=mmap_mode) if has_by_norm else None,
            item_weights=np.load(weights, mmap_mode=mmap_mode) if weights.exists() else None,
        )
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable artifact ({exc})") from exc


# --- atomic writes ---------------------------------------------------------------------------

def npy_bytes(array: np.ndarray) -> bytes:
    """`array` as the bytes of a .npy file (a revision's changed file, before it is written or uploaded)."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: a uniquely named temp file beside it, fsynced, renamed, the directory
    fsynced; a reader sees the old or the new file, never a torn one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
