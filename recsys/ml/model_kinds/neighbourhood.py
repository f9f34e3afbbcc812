"""EASE and RP3beta: item-item models fitted here (not by implicit); artifact kind "itemknn".

Both end as a sparse top-K item x item matrix W (row i: the items history item i points to), so
they score, fold in new events, explain ("because you bought X") and load exactly like BM25 and
cosine item-item (item_item.py): a shopper's scores are her confidence-weighted history rows of W.
Offline evaluation uses the same top-K matrix that is saved, so what selection measures is what
serving serves. An older "itemknn" artifact loads as before; the kind name is in its params.

- EASE (Steck 2019): B = -P / diag(P) with P = (XᵀX + λI)⁻¹, diagonal zeroed, X binary (0/1, as
  Steck; params["binary"] false uses the confidences); closed form, dense
  in the catalog size (three n x n float64 arrays at the peak), so catalogs above
  `FitOptions.ease_max_items` are skipped (`skip_reason`).
- RP3beta (Paudel et al. 2016, as in Ferrari Dacrema et al. 2019): the item -> shopper -> item
  random-walk probabilities, each step's transition probability raised to alpha, the target
  item's column divided by its popularity (shoppers) to the power beta.
- "ease_head", for catalogs EASE cannot take: EASE on the `items` most-interacted items (the head,
  where most of a shop's events are) and RP3beta for every pair that involves a tail item, its
  weights scaled to EASE's on the head block, where both are defined; one top-K matrix. (SANSA, the
  sparse approximation of EASE, needs scikit-sparse's CHOLMOD, which has no wheel for Python 3.11.)
"""
from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from recsys.ml import neighbours
from recsys.ml.model_kinds.base import (
    RP3BETA_SECONDS_PER_COOCCURRENCE,
    SECONDS_PER_COOCCURRENCE,
    TOP_K_SECONDS_PER_ITEM,
    DataSize,
    FitOptions,
    Model,
    ProgressFn,
)
from recsys.ml.model_kinds.item_item import ItemItemModel

DEFAULT_NEIGHBOURS = 100
ROW_BLOCK = 1024  # EASE: dense rows ranked at a time (block x n_items float64)
RP3_BLOCK_CELLS = 2_000_000  # RP3beta: at most this many cells (block rows x n_items) of W at a time


class FittedNeighbourModel(ItemItemModel):
    """An item-item kind whose fit computes its own top-K matrix (`fitted`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fitted: sp.csr_matrix | None = None

    @property
    def neighbours(self) -> int:
        return int(self.params.get("K", DEFAULT_NEIGHBOURS))

    def _full_similarity(self) -> sp.csr_matrix:
        return self.fitted if self.fitted is not None else self.item_similarity

    def similarity(self, top_k: int) -> sp.csr_matrix:
        """The fitted top-K matrix itself (K >= top_k): serving scores with what selection measured."""
        full = self._full_similarity()
        return full if self.neighbours >= top_k else neighbours.top_k_per_row(full, top_k)

    def fit(self, user_items: sp.csr_matrix, *, progress: ProgressFn | None = None, iterations: int | None = None,
            warm_start: Model | None = None) -> Self:
        self.fitted, self.n_items = self._fit_matrix(self._rows(user_items.tocsr()), progress), user_items.shape[1]
        return self

    def _fit_matrix(self, user_items: sp.csr_matrix, progress: ProgressFn | None) -> sp.csr_matrix:
        raise NotImplementedError


class EASEModel(FittedNeighbourModel):
    kind_name = "ease"
    binary_default = True  # as Steck: confidences as X made it worse on the demo and synthetic shops

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"lambda": lam, "K": k} for lam in (10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
                for k in (100, 200)]

    @classmethod
    def skip_reason(cls, shape: tuple[int, int], options: FitOptions) -> str:
        if shape[1] > options.ease_max_items:
            return (f"ease skipped: {shape[1]:,} items > CURIO_EASE_MAX_ITEMS ({options.ease_max_items:,}); "
                    "its closed form is dense in the catalog size")
        return ""

    @classmethod
    def fit_seconds(cls, size: DataSize, params: dict, options: FitOptions, iterations: int | None = None) -> float:
        return ease_seconds(size.items, size.cooccurrences)

    def _fit_matrix(self, user_items: sp.csr_matrix, progress: ProgressFn | None) -> sp.csr_matrix:
        return ease_neighbours(user_items, float(self.params.get("lambda", 100.0)), self.neighbours,
                               num_threads=self.options.num_threads)


class RP3betaModel(FittedNeighbourModel):
    kind_name = "rp3beta"

    @classmethod
    def search_space(cls) -> list[dict]:
        return [{"alpha": a, "beta": b, "K": k, **({"binary": True} if binary else {})}
                for a in (0.6, 0.8, 1.0, 1.2) for b in (0.0, 0.2, 0.4, 0.6) for k in (50, 100, 200)
                for binary in (False, True)]

    @classmethod
    def fit_seconds(cls, size: DataSize, params: dict, options: FitOptions, iterations: int | None = None) -> float:
        return rp3beta_seconds(size)

    def _fit_matrix(self, user_items: sp.csr_matrix, progress: ProgressFn | None) -> sp.csr_matrix:
        p = self.params
        return rp3beta_neighbours(user_items, float(p.get("alpha", 1.0)), float(p.get("beta", 0.5)),
                                  self.neighbours, progress=progress)


class EASEHeadModel(FittedNeighbourModel):
    kind_name = "ease_head"
    binary_default = True

    @classmethod
    def search_space(cls) -> list[dict]:
        # items: the head EASE takes (default CURIO_EASE_MAX_ITEMS); a smaller head costs a fraction of the n³ and
        # scored as well on the 1M-event bench shop
        return [{"lambda": lam, "K": 200, "alpha": a, "beta": b, **({"items": 2000} if small else {})}
                for lam in (100.0, 200.0, 500.0, 1000.0) for a in (0.8, 1.0) for b in (0.2, 0.4) for small in (0, 1)]

    @staticmethod
    def head_items(params: dict, options: FitOptions) -> int:
        """The items EASE takes: params["items"], else CURIO_EASE_MAX_ITEMS."""
        return int(params.get("items", options.ease_max_items))

    @classmethod
    def skip_reason(cls, shape: tuple[int, int], options: FitOptions) -> str:
        if shape[1] <= options.ease_max_items:
            return f"ease_head skipped: {shape[1]:,} items fit EASE itself (CURIO_EASE_MAX_ITEMS)"
        return ""

    @classmethod
    def fit_seconds(cls, size: DataSize, params: dict, options: FitOptions, iterations: int | None = None) -> float:
        head = min(size.items, cls.head_items(params, options))
        # + the joined matrix's own top-K pass over every item
        return ease_seconds(head, size.cooccurrences) + rp3beta_seconds(size) + TOP_K_SECONDS_PER_ITEM * size.items

    def _fit_matrix(self, user_items: sp.csr_matrix, progress: ProgressFn | None) -> sp.csr_matrix:
        p = self.params
        return ease_head_neighbours(user_items, float(p.get("lambda", 200.0)), self.neighbours,
                                    head_items=self.head_items(p, self.options),
                                    alpha=float(p.get("alpha", 0.8)), beta=float(p.get("beta", 0.4)),
                                    num_threads=self.options.num_threads)


def ease_head_neighbours(user_items: sp.csr_matrix, lam: float, k: int, *, head_items: int, alpha: float,
                         beta: float, num_threads: int = 1) -> sp.csr_matrix:
    """EASE on the `head_items` most-interacted columns, RP3beta wherever a tail item is involved
    (scaled so that both put the same weight on the head block), top-k per row, float32 CSR."""
    n = user_items.shape[1]
    popularity = np.diff(user_items.tocsc().indptr)
    head = np.sort(np.argsort(-popularity, kind="stable")[: min(head_items, n)])
    is_head = np.zeros(n, dtype=bool)
    is_head[head] = True
    ease = ease_neighbours(user_items[:, head].tocsr(), lam, k, num_threads=num_threads).tocoo()
    ease = sp.csr_matrix((ease.data, (head[ease.row], head[ease.col])), shape=(n, n), dtype=np.float32)
    walk = rp3beta_neighbours(user_items, alpha, beta, k).tocoo()
    on_head = is_head[walk.row] & is_head[walk.col]
    scale = ease.sum() / max(float(walk.data[on_head].sum()), 1e-12)  # the two models' mass on the head block
    tail = ~on_head
    tail_part = sp.csr_matrix((walk.data[tail] * scale, (walk.row[tail], walk.col[tail])), shape=(n, n),
                              dtype=np.float32)
    return _top_k_sparse((ease + tail_part).tocsr(), k)


def rp3beta_seconds(size: DataSize) -> float:
    """An RP3beta fit's estimated reference seconds: the walk's product, then its top-K pass (base.DataSize)."""
    return RP3BETA_SECONDS_PER_COOCCURRENCE * size.cooccurrences + TOP_K_SECONDS_PER_ITEM * size.items


def ease_seconds(items: int, cooccurrences: float) -> float:
    """An EASE fit's estimated reference seconds: the Gram matrix, its n³ Cholesky inverse (2 threads), the
    dense n x n passes and the top-K (see base.DataSize)."""
    n = float(items)
    return 1.6e-11 * n**3 + 3e-8 * n**2 + SECONDS_PER_COOCCURRENCE * cooccurrences


def ease_weights(user_items: sp.csr_matrix, lam: float, *, num_threads: int = 1) -> np.ndarray:
    """EASE's dense B (float64, n_items x n_items): B_ij = -P_ij / P_jj, P = (XᵀX + λI)⁻¹, B_ii = 0."""
    with threadpool_limits(limits=num_threads, user_api="blas"):  # the caller pins BLAS to 1 thread
        g = (user_items.T @ user_items).toarray(order="F").astype(np.float64)  # LAPACK's order: inverted in place
        g[np.diag_indices_from(g)] += lam
        b = symmetric_inverse(g)
    del g
    b /= -np.diag(b)[None, :]  # in place: P becomes B (one n x n array less at the peak)
    np.fill_diagonal(b, 0.0)
    return b


def symmetric_inverse(g: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix by Cholesky (LAPACK potrf + potri): half the work
    of a general inverse (np.linalg.inv, LU), which was most of an EASE fit. A Fortran-ordered `g` is overwritten
    (any other is copied first); the result is C-ordered."""
    factor, info = lapack.dpotrf(g, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE's Gram matrix is not positive definite (potrf info {info})")
    inv, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE's Gram matrix is singular (potri info {info})")
    n = inv.shape[0]
    for start in range(0, n, ROW_BLOCK):  # potri fills the upper triangle: mirror it, a block at a time
        stop = min(start + ROW_BLOCK, n)
        block = inv[start:stop, start:stop]
        block[:] = np.triu(block) + np.triu(block, 1).T
        inv[stop:, start:stop] = inv[start:stop, stop:].T
    return inv.T  # symmetric now: the transpose is the same matrix, in C order


def ease_neighbours(user_items: sp.csr_matrix, lam: float, k: int, *, num_threads: int = 1) -> sp.csr_matrix:
    """EASE's top-k positive entries per row as float32 CSR."""
    return dense_top_k(ease_weights(user_items, lam, num_threads=num_threads), k)


def rp3beta_walk(user_items: sp.csr_matrix, alpha: float, beta: float) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """RP3beta's two steps: (items x shoppers) P(i->u)^alpha and (shoppers x items) P(u->j)^alpha /
    pop_j^beta, with P(u->j) = x_uj / sum_j x_uj and P(i->u) = 1 / pop_i (each of the item's
    shoppers equally likely); W = their product."""
    x = user_items.tocsr().astype(np.float64)
    pui = _row_normalised(x)
    pui.data **= alpha
    binary = x.copy()
    binary.data[:] = 1.0
    piu = _row_normalised(binary.T.tocsr())
    piu.data **= alpha
    pop = np.diff(binary.tocsc().indptr).astype(np.float64)
    scale = np.divide(1.0, pop ** beta, out=np.zeros_like(pop), where=pop > 0)
    return piu, sp.csr_matrix(pui @ sp.diags(scale))


def rp3beta_weights(piu: sp.csr_matrix, right: sp.csr_matrix, rows: slice) -> sp.csr_matrix:
    """Rows `rows` of W (before any top-K), the diagonal zeroed."""
    w = (piu[rows] @ right).tocsr()
    owner = np.repeat(np.arange(rows.start, rows.start + w.shape[0]), np.diff(w.indptr))
    w.data[w.indices == owner] = 0.0
    w.eliminate_zeros()
    return w


def rp3beta_neighbours(user_items: sp.csr_matrix, alpha: float, beta: float, k: int, *,
                       progress: ProgressFn | None = None) -> sp.csr_matrix:
    """RP3beta's top-k per row (float32 CSR), computed a block of item rows at a time."""
    n = user_items.shape[1]
    piu, right = rp3beta_walk(user_items, alpha, beta)
    step = max(16, min(ROW_BLOCK, RP3_BLOCK_CELLS // max(n, 1)))  # bounded memory for large catalogs
    blocks = []
    for start in range(0, n, step):
        blocks.append(_top_k_sparse(rp3beta_weights(piu, right, slice(start, min(start + step, n))), k))
        if progress:
            progress(min(start + step, n) / n)
    return sp.vstack(blocks, format="csr", dtype=np.float32) if blocks else sp.csr_matrix((0, 0), dtype=np.float32)


def dense_top_k(dense: np.ndarray, k: int, block: int = ROW_BLOCK) -> sp.csr_matrix:
    """The k largest positive entries of each row of a dense matrix, as float32 CSR."""
    n_rows, n_cols = dense.shape
    k = min(k, n_cols)
    rows, cols, vals = [], [], []
    for start in range(0, n_rows, block):
        chunk = dense[start:start + block]
        top = np.argpartition(-chunk, k - 1, axis=1)[:, :k] if k < n_cols else np.tile(np.arange(n_cols),
                                                                                       (len(chunk), 1))
        v = np.take_along_axis(chunk, top, axis=1)
        r, c = np.nonzero(v > 0)
        rows.append(r + start)
        cols.append(top[r, c])
        vals.append(v[r, c])
    out = sp.csr_matrix((np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
                        shape=dense.shape, dtype=np.float32)
    out.sort_indices()
    return out


def _top_k_sparse(w: sp.csr_matrix, k: int) -> sp.csr_matrix:
    cols, vals = neighbours.top_k_rows(w, k, with_values=True)
    r, s = np.nonzero(cols >= 0)
    out = sp.csr_matrix((vals[r, s], (r, cols[r, s])), shape=w.shape, dtype=np.float32)
    out.sort_indices()
    return out


def _row_normalised(x: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(x.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(inv) @ x)
