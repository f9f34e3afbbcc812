"""Content similarity of items: what the catalog says about them, for items behaviour cannot see yet. The index
holds each item's tf-idf row over field-prefixed tokens (w:<word>, c:<category>, a:<name>=<value>; built by
recsys.ml.content_build) and its top content neighbours; this module reads and explains it (numpy and scipy only).

Files of a model version (beside recsys.ml.artifacts' files; written at training, rewritten as a new revision when
the catalog changes, recsys.training.content):
    content_ids.npy                  unicode (n,)  the catalog's items, row i is content_ids[i]
    content_created.npy              float64 (n,)  when each joined the catalog (epoch seconds)
    content_x_{indptr,indices,data}  CSR (n x terms) the tf-idf rows (each row's strongest MAX_TERMS terms)
    content_nn_{indptr,indices,data} CSR (n x n) each item's top-K content neighbours (cosine), best first
    content_vocab.npy                unicode (terms,)
    content_meta.json                {"fingerprint": ..., "built_at": ..., "neighbours": K, "items": n}
    item_support.npy                 int32, aligned with the model's item_ids: interactions per model item
                                     (training only: a refresh keeps it)
Older versions have none of them: `load` answers None and serving makes no content lists. Building the index
(scikit-learn, training and the refresh only, never imported by serving): recsys.ml.content_build.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.ml.artifacts import npy_bytes

META = "content_meta.json"
SUPPORT = "item_support.npy"
_ARRAYS = ("content_ids", "content_created", "content_x_indptr", "content_x_indices", "content_x_data",
           "content_nn_indptr", "content_nn_indices", "content_nn_data", "content_vocab")
FILES = tuple(f"{name}.npy" for name in _ARRAYS) + (META,)


@dataclass
class ContentIndex:
    ids: np.ndarray
    created: np.ndarray
    x: sp.csr_matrix
    nn: sp.csr_matrix
    vocab: np.ndarray
    meta: dict = field(default_factory=dict)
    _rows: dict[str, int] | None = None

    def row(self, item_id: str) -> int | None:
        if self._rows is None:
            self._rows = {key: i for i, key in enumerate(self.ids.tolist())}
        return self._rows.get(item_id)

    def __len__(self) -> int:
        return len(self.ids)


# --- files ------------------------------------------------------------------------------------------------------

def to_files(index: ContentIndex) -> dict[str, bytes]:
    """The content files' bytes, by file name (for a new revision, or `save`)."""
    index_dtype = np.int32
    arrays = {
        "content_ids": np.asarray(index.ids, dtype=str),
        "content_created": np.asarray(index.created, dtype=np.float64),
        "content_x_indptr": index.x.indptr.astype(index_dtype),
        "content_x_indices": index.x.indices.astype(index_dtype),
        "content_x_data": index.x.data.astype(np.float32),
        "content_nn_indptr": index.nn.indptr.astype(index_dtype),
        "content_nn_indices": index.nn.indices.astype(index_dtype),
        "content_nn_data": index.nn.data.astype(np.float32),
        "content_vocab": np.asarray(index.vocab, dtype=str),
    }
    out = {f"{name}.npy": npy_bytes(array) for name, array in arrays.items()}
    out[META] = json.dumps({**index.meta, "terms": len(index.vocab)}, default=str).encode()
    return out


def save(directory: Path, index: ContentIndex, support: np.ndarray | None = None) -> None:
    """Write the content files (and the model-aligned support) into a version directory being written."""
    directory = Path(directory)
    for name, data in to_files(index).items():
        (directory / name).write_bytes(data)
    if support is not None:
        np.save(directory / SUPPORT, np.asarray(support, dtype=np.int32))


def read_meta(raw: bytes) -> dict:
    try:
        return json.loads(raw)
    except ValueError:
        return {}


def load(path: Path, mmap_mode: str | None = "r") -> ContentIndex | None:
    """The content index of a version directory, memory-mapped; None when the version has none or its files do
    not fit together (a revision being written in place: the next load sees it whole)."""
    path = Path(path)
    if not all((path / name).exists() for name in FILES):
        return None
    try:
        a = {name: np.load(path / f"{name}.npy", mmap_mode=mmap_mode) for name in _ARRAYS}
        meta = read_meta((path / META).read_bytes())
        n, terms = len(a["content_ids"]), len(a["content_vocab"])
        if (len(a["content_created"]) != n or len(a["content_x_indptr"]) != n + 1
                or len(a["content_nn_indptr"]) != n + 1 or meta.get("items") != n or meta.get("terms") != terms):
            return None
        x = sp.csr_matrix((np.asarray(a["content_x_data"]), np.asarray(a["content_x_indices"]),
                           np.asarray(a["content_x_indptr"])), shape=(n, terms))
        nn = sp.csr_matrix((np.asarray(a["content_nn_data"]), np.asarray(a["content_nn_indices"]),
                            np.asarray(a["content_nn_indptr"])), shape=(n, n))
    except (OSError, ValueError) as exc:
        del exc
        return None
    return ContentIndex(np.asarray(a["content_ids"]), np.asarray(a["content_created"]), x, nn,
                        np.asarray(a["content_vocab"]), meta)


def load_support(path: Path, n_items: int, mmap_mode: str | None = "r") -> np.ndarray | None:
    p = Path(path) / SUPPORT
    if not p.exists():
        return None
    support = np.load(p, mmap_mode=mmap_mode)
    return np.asarray(support) if len(support) == n_items else None


# --- reading it -------------------------------------------------------------------------------------------------

def neighbours(index: ContentIndex, row: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, similarities) of an item's top content neighbours, best first."""
    lo, hi = index.nn.indptr[row], index.nn.indptr[row + 1]
    hi = min(hi, lo + n)
    return np.asarray(index.nn.indices[lo:hi]), np.asarray(index.nn.data[lo:hi])


def shared_terms(index: ContentIndex, a: int, b: int, top: int = 3) -> list[str]:
    """The terms items `a` and `b` share, heaviest first (by the product of their weights)."""
    x = index.x
    a_idx, a_val = x.indices[x.indptr[a]:x.indptr[a + 1]], x.data[x.indptr[a]:x.indptr[a + 1]]
    b_idx, b_val = x.indices[x.indptr[b]:x.indptr[b + 1]], x.data[x.indptr[b]:x.indptr[b + 1]]
    common, ia, ib = np.intersect1d(a_idx, b_idx, assume_unique=True, return_indices=True)
    if common.size == 0:
        return []
    order = np.argsort(-(a_val[ia] * b_val[ib]), kind="stable")[:top]
    return [str(index.vocab[common[i]]) for i in order]


def shared_fields(terms: Iterable[str]) -> tuple[list[str], list[str]]:
    """What two items' shared terms name: (fields such as "brand", "category", in weight order; shared words)."""
    fields, words = [], []
    for term in terms:
        if term.startswith("c:"):
            fields.append("category")
        elif term.startswith("a:"):
            fields.append(term[2:].split("=", 1)[0])
        elif term.startswith("w:"):
            words.append(term[2:])
    return list(dict.fromkeys(fields)), words


def describe(terms: Iterable[str]) -> str:
    """Words for what two items share: "same brand and category", or 'also "trail", "waterproof"'."""
    fields, words = shared_fields(terms)
    if fields:
        return "same " + (fields[0] if len(fields) == 1 else ", ".join(fields[:-1]) + " and " + fields[-1])
    if words:
        return "also " + ", ".join(f"“{w}”" for w in words)
    return "similar description"


def affinity(index: ContentIndex, rows: np.ndarray, weights: np.ndarray, candidates_t: sp.csr_matrix) -> np.ndarray:
    """How close each candidate is to a history: for `rows` (the history's content rows) with `weights`, and the
    candidates' transposed tf-idf rows (terms x candidates), the summed weighted cosine per candidate. One sparse
    profile of the history against the candidates (1 x candidates), never a history x candidates array."""
    if len(rows) == 0 or candidates_t.shape[1] == 0:
        return np.zeros(candidates_t.shape[1], dtype=np.float32)
    profile = sp.csr_matrix(np.asarray(weights, dtype=np.float32)[None, :]) @ index.x[rows]
    return np.asarray((profile @ candidates_t).todense(), dtype=np.float32).ravel()


def closest(index: ContentIndex, rows: np.ndarray, row: int) -> int:
    """The position in `rows` of the history item closest to content row `row` (for its reason)."""
    return int(np.asarray((index.x[rows] @ index.x[row].T).todense()).ravel().argmax())
