"""Building the content index (recsys.ml.content) from the catalog's items: training and the catalog refresh only
(scikit-learn is not imported by serving processes).

Each item is a bag of field-prefixed tokens, weighted by scikit-learn's `TfidfVectorizer` (sublinear tf, idf, rows
l2-normalised), so a shared rare attribute value counts more than a shared common word:
    w:<word>          a word of the title or the description (scikit-learn's word analyzer, English stop words)
    c:<category>      the category
    a:<name>=<value>  an attribute (a list value gives one token per element)
The field prefixes let an explanation name what two items share ("same brand and category").
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from recsys.ml.content import ContentIndex

NEIGHBOURS = 50
MAX_TERMS = 48
DESCRIPTION_KEYS = ("description", "body", "summary")


@dataclass
class ItemText:
    item_id: str
    title: str
    category: str = ""
    attributes: dict = field(default_factory=dict)
    created: float = 0.0  # epoch seconds of its first ingestion


@functools.cache
def _words():
    return _tfidf()(stop_words="english").build_analyzer()


def _tfidf():
    """scikit-learn's TfidfVectorizer, imported on first use: web processes import the training pipeline (for its
    API) but never build an index, and scikit-learn costs ~0.5 s and ~40 MB per process to import."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer


def _norm(value) -> str:
    return " ".join(str(value).lower().split())


def item_tokens(item: ItemText) -> list[str]:
    """The field-prefixed tokens of one item (the analyzer `TfidfVectorizer` is given)."""
    attrs = item.attributes if isinstance(item.attributes, dict) else {}
    text = " ".join([item.title or ""] + [str(attrs[k]) for k in DESCRIPTION_KEYS if isinstance(attrs.get(k), str)])
    out = [f"w:{w}" for w in _words()(text)]
    if item.category:
        out.append(f"c:{_norm(item.category)}")
    for name, value in sorted(attrs.items()):
        if name in DESCRIPTION_KEYS or value is None or isinstance(value, dict):
            continue
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, bool | int | float | str) and _norm(v) and len(str(v)) <= 100:
                out.append(f"a:{_norm(name)}={_norm(v)}")
    return out


def build(items: list[ItemText], *, neighbours: int = NEIGHBOURS, max_terms: int = MAX_TERMS,
          fingerprint=None, built_at: float = 0.0, support: dict[str, int] | None = None) -> ContentIndex:
    """Fit the tf-idf weighting on `items` and find each item's top `neighbours` by cosine similarity times
    `evidence(support)` (interactions per item id; none: cosine alone). The stored figures are the cosines."""
    ids = np.array([i.item_id for i in items], dtype=str)
    created = np.array([i.created for i in items], dtype=np.float64)
    if not items:
        empty = sp.csr_matrix((0, 0), dtype=np.float32)
        return ContentIndex(ids, created, empty, empty, np.array([], dtype=str),
                            {"fingerprint": fingerprint, "built_at": built_at, "neighbours": neighbours, "items": 0})
    vectorizer = _tfidf()(analyzer=item_tokens, sublinear_tf=True, dtype=np.float32)
    try:
        x = vectorizer.fit_transform(items).tocsr()
        vocab = np.asarray(vectorizer.get_feature_names_out(), dtype=str)
    except ValueError:  # no item has a single token
        x, vocab = sp.csr_matrix((len(items), 0), dtype=np.float32), np.array([], dtype=str)
    x = _strongest_terms(x, max_terms)
    weights = None if not support else evidence(np.array([support.get(i.item_id, 0) for i in items]))
    nn = top_neighbours(x, neighbours, weights=weights)
    return ContentIndex(ids, created, x, nn, vocab, {"fingerprint": fingerprint, "built_at": built_at,
                                                     "neighbours": neighbours, "items": len(items)})


def _strongest_terms(x: sp.csr_matrix, max_terms: int) -> sp.csr_matrix:
    """Each row's `max_terms` heaviest terms, l2-normalised again, columns sorted."""
    x = x.tocsr()
    counts = np.diff(x.indptr)
    if counts.size == 0 or counts.max() <= max_terms:
        x.sort_indices()
        return x.astype(np.float32)
    rows, cols, vals = [], [], []
    for r in range(x.shape[0]):
        lo, hi = x.indptr[r], x.indptr[r + 1]
        idx, data = x.indices[lo:hi], x.data[lo:hi]
        if hi - lo > max_terms:
            keep = np.argpartition(-data, max_terms - 1)[:max_terms]
            idx, data = idx[keep], data[keep]
        rows.append(np.full(len(idx), r))
        cols.append(idx)
        vals.append(data / max(float(np.linalg.norm(data)), 1e-12))
    out = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=x.shape,
                        dtype=np.float32)
    out.sort_indices()
    return out


def evidence(support: np.ndarray) -> np.ndarray:
    """1 + ln(1 + interactions): among items the catalog describes alike, those shoppers chose more often are
    likelier neighbours in behaviour too (recsys.serving.content_lists ranks by cosine x evidence as well)."""
    return (1.0 + np.log1p(np.maximum(np.asarray(support, dtype=np.float32), 0))).astype(np.float32)


def top_neighbours(x: sp.csr_matrix, k: int, *, weights: np.ndarray | None = None,
                   cells: int = 16_000_000) -> sp.csr_matrix:
    """Each row's top `k` other rows by cosine (rows are unit length) times the other row's weight, best first
    (ties: lower row first); the stored figures are the cosines. Blocks of rows against all rows as dense arrays of
    at most `cells` floats (64 MB), top-k by argpartition per block."""
    n = x.shape[0]
    k = min(k, max(n - 1, 0))
    if n == 0 or k == 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    xt = x.T.tocsr()
    chunk = max(1, min(n, cells // n))
    counts = np.zeros(n, dtype=np.int64)
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        block = np.asarray((x[start:stop] @ xt).todense(), dtype=np.float32)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0  # not its own neighbour
        ranked = block if weights is None else block * weights[None, :]
        top = np.argpartition(-ranked, k - 1, axis=1)[:, :k]
        keys = np.take_along_axis(ranked, top, axis=1)
        order = np.lexsort((top, -keys), axis=-1)
        top = np.take_along_axis(top, order, axis=1)
        vals = np.take_along_axis(block, top, axis=1)
        keep = vals > 1e-6
        counts[start:stop] = keep.sum(axis=1)
        indices.append(top[keep].astype(np.int32))
        data.append(vals[keep].astype(np.float32))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return sp.csr_matrix((np.concatenate(data), np.concatenate(indices), indptr), shape=(n, n))


def item_support(matrix: sp.spmatrix) -> np.ndarray:
    """Interactions per item column of a shopper x item matrix (the evidence behind its behavioural lists)."""
    return np.asarray(sp.csc_matrix(matrix).getnnz(axis=0), dtype=np.int32)
