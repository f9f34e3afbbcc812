"""The numeric core of serving: fold-in, top-k, item-item scores and explanations. No ORM.

A shopper's history arrives as model columns with confidences (`History`). ALS lists fold the
shopper in from that history on every request (the same least-squares step as implicit's
`recalculate_user`, with YtY computed once per loaded version), so events sent after training
count at once. The system matrix A of that step also gives the explanation (implicit's
`explain`: contribution of history item j to item i is c_j * y_i^T A^-1 y_j), vectorised over
all candidates. Item-item lists score by summing similarity rows of the context items.
These are the kernels; which model kind uses which is recsys.ml.model_kinds' business.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.cpu.topk import topk

from recsys.ml import artifacts

# implicit's topk gives filtered columns the score -FLT_MAX (finite): anything below this is one.
FILTERED = float(np.finfo(np.float32).min) / 2


@dataclass
class History:
    """One shopper's (or cart's) items as model columns, most recent first, with confidences."""

    cols: np.ndarray  # int32, unique
    conf: np.ndarray  # float32, > 0

    @classmethod
    def empty(cls) -> History:
        return cls(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.cols)


@dataclass
class Scored:
    cols: np.ndarray  # int32, best first
    scores: np.ndarray  # float32
    # For each scored column: the history column contributing most (-1: none).
    top_contributor: np.ndarray


def gram(item_factors: np.ndarray) -> np.ndarray:
    """YtY in float64: computed once per loaded model version, reused by every fold-in."""
    y = np.asarray(item_factors, dtype=np.float64)
    return y.T @ y


def als_fold_in(item_factors, yty, regularization: float, history: History):
    """Least-squares user factor from `history` (implicit's recalculate_user), plus the system
    matrix A = YtY + reg*I + Yt(Cu - I)Y that the explanation reuses.

    numpy's LAPACK solve rather than scipy's cho_factor/cho_solve: same maths on a 64 x 64 SPD
    system, without scipy's per-call validation overhead (that overhead was a third of the model part).
    """
    k = yty.shape[0]
    y = np.asarray(item_factors[history.cols], dtype=np.float64)
    conf = history.conf.astype(np.float64)
    a = yty + (y.T * (conf - 1.0)) @ y
    a[np.diag_indices(k)] += regularization
    b = y.T @ conf
    return np.linalg.solve(a, b).astype(np.float32), a


def als_explain(item_factors, a, history: History, cols: np.ndarray) -> np.ndarray:
    """Per candidate column, the history column with the largest contribution to its score:
    implicit's explain(), c_j * y_i^T A^-1 y_j, for all candidates at once."""
    if len(history) == 0 or len(cols) == 0:
        return np.full(len(cols), -1, dtype=np.int64)
    y_hist = np.asarray(item_factors[history.cols], dtype=np.float64)
    weighted = np.linalg.solve(a, np.asarray(item_factors[cols], dtype=np.float64).T)  # k x n
    contrib = (y_hist @ weighted) * history.conf[:, None]
    return history.cols[np.argmax(contrib, axis=0)].astype(np.int64)


@dataclass
class NormOrder:
    """What the pruned top-k scans: item columns by descending factor norm, those norms, each
    column's position in the order, and (from the artifact, memory-mapped) the factor rows in that
    order, so a scan reads contiguous rows. Built once per loaded version."""

    cols: np.ndarray  # int64
    norms: np.ndarray  # float32, descending
    position: np.ndarray  # int64: position[col] = index of col in cols
    factors: np.ndarray | None  # rows in `cols` order; None: gathered from item_factors per block

    @classmethod
    def of(cls, item_factors: np.ndarray, cols: np.ndarray | None = None,
           factors_by_norm: np.ndarray | None = None) -> NormOrder:
        if cols is None or factors_by_norm is None:  # a version saved before the sorted copy existed
            cols, factors_by_norm = artifacts.norm_order(item_factors), None
        cols = np.asarray(cols, dtype=np.int64)
        rows = factors_by_norm if factors_by_norm is not None else np.asarray(item_factors)[cols]
        norms = np.linalg.norm(np.asarray(rows, dtype=np.float32), axis=1).astype(np.float32)
        position = np.empty(len(cols), dtype=np.int64)
        position[cols] = np.arange(len(cols))
        return cls(cols, norms, position, factors_by_norm)


PRUNE_BLOCK = 2048


def als_top_pruned(item_factors, order: NormOrder, user_vector: np.ndarray, n: int,
                   exclude: np.ndarray | None = None, block: int = PRUNE_BLOCK):
    """The exact top-n of one user vector, scoring items in descending-norm blocks and stopping once
    no unscored item can beat the n-th best (Cauchy-Schwarz: y.u <= |y| |u|).

    Same result as scoring every item, but with a power-law catalog the bound usually stops after a
    few blocks (8% of the items on the 50k-item bench model), so a request reads a tenth of the
    factor matrix; that memory traffic, not arithmetic, was the top-k's cost. Returns (cols, scores)
    best first, at most n, never an `exclude` column.
    """
    if n <= 0:
        return order.cols[:0], np.zeros(0, dtype=np.float32)
    u = np.ascontiguousarray(user_vector, dtype=np.float32)
    # A hair above |u|, so float32 rounding of the scores can't stop the scan one block early.
    bound = float(np.linalg.norm(u)) * (1 + 1e-5)
    total = len(order.cols)
    skip = np.sort(order.position[np.asarray(exclude, dtype=np.int64)]) if exclude is not None and len(exclude) \
        else np.zeros(0, dtype=np.int64)
    best_pos = np.zeros(0, dtype=np.int64)  # positions in the norm order
    best_scores = np.zeros(0, dtype=np.float32)
    for start in range(0, total, block):
        end = min(start + block, total)
        rows = order.factors[start:end] if order.factors is not None else item_factors[order.cols[start:end]]
        scores = rows @ u
        hit = skip[np.searchsorted(skip, start):np.searchsorted(skip, end)]
        scores[hit - start] = -np.inf
        best_pos = np.concatenate([best_pos, np.arange(start, end)])
        best_scores = np.concatenate([best_scores, scores])
        if len(best_scores) > n:
            top = np.argpartition(-best_scores, n - 1)[:n]
            best_pos, best_scores = best_pos[top], best_scores[top]
        if end >= total or (len(best_scores) == n and best_scores.min() >= bound * order.norms[end]):
            break
    keep = best_scores > -np.inf
    best_pos, best_scores = best_pos[keep], best_scores[keep]
    ranked = np.argsort(-best_scores, kind="stable")
    return order.cols[best_pos[ranked]], best_scores[ranked]


def als_top(item_factors, user_vectors: np.ndarray, n: int, exclude: sp.csr_matrix | np.ndarray | None,
            candidates: np.ndarray | None = None, num_threads: int = 1):
    """Top-n columns per user vector (rows), leaving out each row's `exclude` columns (a CSR row
    per user vector, or for a single vector simply an array of columns)."""
    factors = item_factors
    single = isinstance(exclude, np.ndarray)
    if candidates is not None:
        factors = item_factors[candidates]
        if exclude is not None:
            exclude = np.flatnonzero(np.isin(candidates, exclude)).astype(np.int32) if single \
                else exclude[:, candidates]
    n = max(1, min(n, factors.shape[0]))
    ids, scores = topk(factors, np.ascontiguousarray(user_vectors, dtype=np.float32), n,
                       filter_query_items=None if single else exclude,
                       filter_items=exclude if single and len(exclude) else None, num_threads=num_threads)
    if candidates is not None:
        ids = np.where(ids >= 0, candidates[np.clip(ids, 0, None)], -1)
    return ids, scores


def exclusion_rows(histories: list[History | np.ndarray | None], n_items: int) -> sp.csr_matrix:
    """One CSR row per history (or array of columns; None: none) marking its columns, for topk's
    filter_query_items."""
    cols = [np.zeros(0, dtype=np.int32) if h is None else h.cols if isinstance(h, History) else np.asarray(h)
            for h in histories]
    indptr = np.zeros(len(cols) + 1, dtype=np.int32)
    indptr[1:] = np.cumsum([len(c) for c in cols])
    indices = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int32)
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, indices.astype(np.int32), indptr), shape=(len(cols), n_items))


def knn_scores(similarity: sp.csr_matrix, history: History, n: int, exclude_cols=(),
               candidates: np.ndarray | None = None) -> Scored:
    """Item-item scores: the confidence-weighted sum of the history items' similarity rows."""
    if len(history) == 0:
        return Scored(np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.int64))
    rows = similarity[history.cols]  # small CSR: len(history) x n_items
    dense = np.asarray(rows.T @ history.conf.astype(np.float32)).ravel()
    if candidates is not None:
        mask = np.zeros(dense.shape[0], dtype=bool)
        mask[candidates] = True
        dense[~mask] = 0.0
    dense[np.asarray(list(exclude_cols), dtype=np.int64)] = 0.0
    positive = np.flatnonzero(dense > 0)
    if len(positive) > n:
        positive = positive[np.argpartition(-dense[positive], n - 1)[:n]]
    order = positive[np.argsort(-dense[positive], kind="stable")]
    contrib = rows[:, order].toarray() * history.conf[:, None]
    top = history.cols[np.argmax(contrib, axis=0)] if len(order) else np.zeros(0, np.int64)
    return Scored(order.astype(np.int32), dense[order].astype(np.float32), top.astype(np.int64))
