"""Remove a shopper from model artifacts on disk (no ORM): every retained version, active or not.

A shopper's row is erased by clearing its id in `user_ids.npy` (so no lookup finds it again)
and zeroing its row in `user_factors.npy`. Each file is rewritten to a temp file and renamed
over the old one, so a reader sees the old or the new file, never a torn one; the ids go
first, so from that moment no reader can map the shopper to a row. Readers holding the old
files memory-mapped keep them until they reload: callers bump the active stamp afterwards.
Edits of one version directory are serialised across processes by a file lock (`version_lock`), and
every rewrite goes through a uniquely named temp file, fsynced, then renamed: concurrent erasures
(gunicorn workers) each see the other's result, never a stale copy to overwrite.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import io
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from recsys.ml.artifacts import write_atomic

LOCK_NAME = ".lock"
LOCK_TIMEOUT_SECONDS = 30.0


class LockTimeout(Exception):
    """Another process held a version's lock for longer than the caller would wait."""


def version_dirs(model_dir: Path) -> list[Path]:
    """Every artifact directory under MODEL_DIR (complete or still being written)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(p for p in model_dir.iterdir() if p.is_dir() and (p / "user_ids.npy").exists())


@contextlib.contextmanager
def version_lock(version: Path, timeout: float = LOCK_TIMEOUT_SECONDS):
    """Serialise edits of one version directory across processes (an flock on `version/.lock`): two
    erasures loading, editing and renaming the same id file one after the other, never undoing each
    other. Raises LockTimeout when another holder keeps it longer than `timeout`."""
    fd = os.open(version / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{version.name} is locked by another erasure or scrub") from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _replace_npy(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    write_atomic(path, buffer.getvalue())


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
        cleared = ids.copy()
        cleared[rows] = ""
        _replace_npy(ids_path, cleared)
        factors_path = version / "user_factors.npy"
        if factors_path.exists():
            factors = np.load(factors_path)
            factors = factors.copy() if not factors.flags.writeable else factors
            factors[rows[rows < len(factors)]] = 0
            _replace_npy(factors_path, factors)
        return int(rows.size)


def erase_user(model_dir: Path, user_id: str, *also: str, lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> dict[str, int]:
    """Erase one shopper (and the ids merged into it: `also`) from every version;
    {version dir name: rows cleared} for versions that had them."""
    out = {}
    wanted = np.array([user_id, *also])
    for version in version_dirs(model_dir):
        n = erase_rows(version, lambda ids: np.isin(ids, wanted), lock_timeout=lock_timeout)
        if n:
            out[version.name] = n
    return out


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
