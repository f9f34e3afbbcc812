"""Events -> shopper x item confidence matrix, and the holdout split. Pure numpy/scipy, no ORM.

The DB layer (recsys.selectors.training) hands over flat arrays (one entry per event):
shopper pk, item pk, event type code, value, timestamp in epoch seconds. Everything here
is vectorised so 3M events cost well under a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

# Event type codes used on the extraction wire (SQL CASE emits these small ints).
TYPE_CODES: dict[str, int] = {"view": 0, "click": 1, "add_to_cart": 2, "purchase": 3, "rating": 4}
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class WeightConfig:
    """How much one event says "this shopper likes this item".

    weights: confidence per event type. A rating counts (with the rating weight) only when its
    value is >= rating_threshold; lower ratings contribute nothing.
    half_life_days: an event this old counts half; 0 turns decay off.
    window_days: events older than this are left out; 0 means no window.
    """

    weights: dict[str, float] = field(
        default_factory=lambda: {"view": 1.0, "click": 2.0, "add_to_cart": 4.0, "purchase": 8.0, "rating": 4.0}
    )
    rating_threshold: float = 4.0
    half_life_days: float = 180.0
    window_days: float = 730.0


def event_weights(type_codes: np.ndarray, values: np.ndarray, timestamps: np.ndarray, *, now: float,
                  config: WeightConfig) -> np.ndarray:
    """Confidence contributed by each event (float32; 0 for events that do not count)."""
    table = np.zeros(len(TYPE_CODES) + 1, dtype=np.float32)  # the last slot: unknown types (code -1)
    for name, code in TYPE_CODES.items():
        table[code] = config.weights.get(name, 0.0)
    w = table[np.asarray(type_codes, dtype=np.int64)]  # -1 indexes the unknown slot, weight 0
    is_rating = type_codes == TYPE_CODES["rating"]
    if is_rating.any():
        w[is_rating & (np.asarray(values) < config.rating_threshold)] = 0.0
    age_days = (now - np.asarray(timestamps, dtype=np.float64)) / SECONDS_PER_DAY
    age_days = np.maximum(age_days, 0.0)
    if config.window_days > 0:
        w[age_days > config.window_days] = 0.0
    if config.half_life_days > 0:
        w *= np.exp2(-age_days / config.half_life_days).astype(np.float32)
    return w


@dataclass
class Interactions:
    """The training matrix and the maps from its rows/columns to DB primary keys."""

    matrix: sp.csr_matrix  # float32 confidences, shape (n_users, n_items)
    user_pks: np.ndarray  # row i <-> Shopper pk user_pks[i] (sorted)
    item_pks: np.ndarray  # column j <-> Item pk item_pks[j] (sorted)

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
