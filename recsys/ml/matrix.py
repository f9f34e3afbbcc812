"""Events -> shopper x item confidence matrix, and the holdout split. Pure numpy/scipy, no ORM.

The DB layer (recsys.training.selectors) hands over flat arrays (one entry per event):
shopper pk, item pk, event type code, value, timestamp in epoch seconds. Everything here
is vectorised so 3M events cost well under a second.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# The weighting lives in recsys.ml.weights; the matrix code and its callers reach it through here.
from recsys.ml.events import TYPE_CODES  # noqa: F401
from recsys.ml.weights import SECONDS_PER_DAY, WeightConfig, event_weights  # noqa: F401


@dataclass
class Interactions:
    """The training matrix and the maps from its rows/columns to DB primary keys."""

    matrix: sp.csr_matrix  # float32 confidences, shape (n_users, n_items)
    user_pks: np.ndarray  # row i <-> Shopper pk user_pks[i] (sorted)
    item_pks: np.ndarray  # column j <-> Item pk item_pks[j] (sorted)
    # The external ids of those rows/columns, read right after the events ("" for a row whose shopper was
    # erased or merged away meanwhile): the artifact never maps a row to whoever holds a pk later.
    user_ids: np.ndarray | None = None
    item_ids: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape


def build_interactions(user_pks: np.ndarray, item_pks: np.ndarray, weights: np.ndarray, *,
                       negatives: tuple[np.ndarray, np.ndarray] | None = None) -> Interactions:
    """Sum event weights per (shopper, item); drop zero cells and the `negatives` pairs.

    Rows/columns are only the shoppers/items with at least one counting event.
    """
    keep = weights > 0
    if not keep.all():
        user_pks, item_pks, weights = user_pks[keep], item_pks[keep], weights[keep]
    users, rows = dense_ids(user_pks)
    items, cols = dense_ids(item_pks)
    matrix = sp.csr_matrix(
        (weights.astype(np.float32, copy=False), (rows, cols)), shape=(len(users), len(items)), dtype=np.float32,
    )  # duplicates are summed by the COO -> CSR conversion
    if negatives is not None and len(negatives[0]):
        matrix = remove_pairs(matrix, users, items, *negatives)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return Interactions(matrix=matrix, user_pks=users, item_pks=items)


def dense_ids(pks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct pks, int32 position of each pk among them): np.unique(return_inverse=True)
    in O(n) through a lookup table over the pk range (DB keys are dense); sorts when they are not."""
    if len(pks) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    lo, hi = int(pks.min()), int(pks.max())
    if hi - lo + 1 > 4 * len(pks) + 1_000_000:
        distinct, inverse = np.unique(pks, return_inverse=True)
        return distinct, inverse.astype(np.int32)
    present = np.zeros(hi - lo + 1, dtype=bool)
    offsets = pks - lo
    present[offsets] = True
    lookup = np.cumsum(present, dtype=np.int32) - 1
    return np.flatnonzero(present).astype(np.int64) + lo, lookup[offsets]


def pair_cells(users: np.ndarray, items: np.ndarray, user_pks: np.ndarray,
               item_pks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns) of the (shopper pk, item pk) pairs that have a cell in the matrix whose
    sorted row/column pks are `users`/`items`, and the mask of those pairs among the input."""
    r = np.searchsorted(users, user_pks)
    c = np.searchsorted(items, item_pks)
    ok = (r < len(users)) & (c < len(items))
    ok[ok] = (users[r[ok]] == user_pks[ok]) & (items[c[ok]] == item_pks[ok])
    return r[ok], c[ok], ok


def remove_pairs(matrix: sp.csr_matrix, users: np.ndarray, items: np.ndarray,
                 neg_user_pks: np.ndarray, neg_item_pks: np.ndarray) -> sp.csr_matrix:
    """Zero the cells of (shopper pk, item pk) pairs, e.g. "not interested" feedback."""
    r, c, _ = pair_cells(users, items, neg_user_pks, neg_item_pks)
    mask = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=matrix.shape)
    mask.data[:] = 1.0
    return (matrix - matrix.multiply(mask)).tocsr()


@dataclass
class Split:
    """Train matrix (same shape as the full one) and the held-out items of the eval users."""

    train: sp.csr_matrix
    test: sp.csr_matrix  # only rows of eval_users are non-empty
    eval_users: np.ndarray  # row indices, sorted


def holdout_split(matrix: sp.csr_matrix, *, fraction: float = 0.2, max_eval_users: int = 10_000,
                  min_items: int = 2, seed: int = 0) -> Split:
    """Per-shopper holdout: for up to `max_eval_users` shoppers (seeded sample among those with
    >= min_items items) hide ceil(fraction * n) of their items (at least 1, never all).

    Every other shopper keeps all data in train, so a model fit on `train` is close to one fit on
    everything (cheap warm-started refit) while the evaluation still covers up to 10,000 shoppers.
    """
    matrix = matrix.tocsr()
    rng = np.random.default_rng(seed)
    counts = np.diff(matrix.indptr)
    candidates = np.flatnonzero(counts >= min_items)
    if len(candidates) > max_eval_users:
        candidates = np.sort(rng.choice(candidates, size=max_eval_users, replace=False))
    n_test = np.zeros(matrix.shape[0], dtype=np.int64)
    n_test[candidates] = np.minimum(np.ceil(counts[candidates] * fraction).astype(np.int64),
                                    counts[candidates] - 1)
    n_test[candidates] = np.maximum(n_test[candidates], 1)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    # Rank each entry inside its row by a random key; the lowest n_test[row] ranks are held out.
    order = np.lexsort((rng.random(matrix.nnz), rows))
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    held = rank < n_test[rows]
    test = _subset(matrix, held)
    train = _subset(matrix, ~held)
    return Split(train=train, test=test, eval_users=candidates.astype(np.int64))


def _subset(matrix: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int32), np.diff(matrix.indptr))[keep]
    indptr = np.zeros(matrix.shape[0] + 1, dtype=matrix.indptr.dtype)
    np.cumsum(np.bincount(rows, minlength=matrix.shape[0]), out=indptr[1:])
    return sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def item_popularity(matrix: sp.csr_matrix) -> np.ndarray:
    """Number of shoppers who interacted with each item."""
    return np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.int64)


def matrix_bytes(matrix: sp.csr_matrix) -> int:
    return int(matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes)
