"""Down-weighting interactions that curators' promotions caused (pure, no ORM).

An event that followed a pinned or boosted impression (same recommendation id and item) says
as much about the merchandiser as about the shopper. With factor f in [0, 1] such an event
counts f times its usual weight: the training matrix cell becomes
    sum(organic weights) + f * sum(promoted weights)
(f = 1: no change; f = 0: left out). Applied after the matrix is built, so the event weights,
window and decay are exactly those the matrix used.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.ml.matrix import Interactions, pair_cells


def downweight(data: Interactions, user_pks: np.ndarray, item_pks: np.ndarray, weights: np.ndarray,
               factor: float) -> Interactions:
    """Subtract (1 - factor) * weight of each promoted event from its cell (clipped at 0)."""
    factor = min(max(float(factor), 0.0), 1.0)
    if factor >= 1.0 or len(user_pks) == 0 or data.matrix.nnz == 0:
        return data
    users, items = data.user_pks, data.item_pks
    r, c, ok = pair_cells(users, items, user_pks, item_pks)
    amounts = (1.0 - factor) * np.asarray(weights, dtype=np.float32)[ok]
    correction = sp.csr_matrix((amounts, (r, c)), shape=data.matrix.shape, dtype=np.float32)
    matrix = (data.matrix - correction).tocsr()
    matrix.data[matrix.data < 1e-6] = 0.0  # float noise and cells that were promoted only
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return Interactions(matrix=matrix, user_pks=users, item_pks=items)
