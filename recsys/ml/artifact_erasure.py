"""Remove shoppers from a version directory on disk (no ORM), and the keyed hash that names them.

Used on a version training has just written and not yet stored (shoppers erased while it trained):
their id in `user_ids.npy` is cleared and their `user_factors` row zeroed, each file rewritten through a
uniquely named temp file, fsynced, then renamed, under the directory's file lock. Stored versions are
erased as new revisions through the artifact store (recsys.training.stored_versions).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from recsys.ml.artifact_store import file_lock
from recsys.ml.artifacts import npy_bytes, write_atomic

LOCK_NAME = ".lock"
LOCK_TIMEOUT_SECONDS = 30.0


def version_lock(version: Path, timeout: float = LOCK_TIMEOUT_SECONDS):
    """Serialise edits of one version directory across processes (an flock on `version/.lock`)."""
    return file_lock(version / LOCK_NAME, timeout, f"{version.name} is locked by another erasure or scrub")


def clear_rows(ids: np.ndarray, factors: np.ndarray | None, rows: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """Copies of a version's user ids and user factors with `rows` erased: the id cleared (no lookup finds it
    again), the factor row zeroed."""
    cleared = ids.copy()
    cleared[rows] = ""
    if factors is not None:
        factors = np.array(factors)  # a writable copy (a memory map is read-only)
        factors[rows[rows < len(factors)]] = 0
    return cleared, factors


def erase_rows(version: Path, match: Callable[[np.ndarray], np.ndarray], *,
               lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> int:
    """Clear the rows whose ids `match` (a vectorised predicate over the id array) selects, under the
    version's lock (the load-edit-rename of one erasure never interleaves with another's)."""
    with version_lock(version, lock_timeout):
        ids_path = version / "user_ids.npy"
        ids = np.load(ids_path)
        rows = np.flatnonzero(match(ids))
        if rows.size == 0:
            return 0
        factors_path = version / "user_factors.npy"
        cleared, factors = clear_rows(ids, np.load(factors_path) if factors_path.exists() else None, rows)
        write_atomic(ids_path, npy_bytes(cleared))  # the ids first: from then on no lookup finds the shopper
        if factors is not None:
            write_atomic(factors_path, npy_bytes(factors))
        return int(rows.size)


def user_hash(user_id: str, key: str) -> str:
    """Keyed hash of a user id: receipts and logs name shoppers by this, never in clear."""
    return hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def scrub_hashes(version: Path, hashes: Iterable[str], key: str, *, lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> int:
    """Erase from one artifact every user whose keyed hash is in `hashes` (for a training
    that read its data before an erasure committed)."""
    wanted = set(hashes)
    if not wanted or not (version / "user_ids.npy").exists():
        return 0

    def match(ids: np.ndarray) -> np.ndarray:
        return np.fromiter((bool(u) and user_hash(str(u), key) in wanted for u in ids), dtype=bool, count=len(ids))

    return erase_rows(version, match, lock_timeout=lock_timeout)
