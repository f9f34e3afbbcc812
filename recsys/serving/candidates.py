"""Model candidates for each list type, with the raw material of their explanations.

Everything here works on one loaded model version and plain Python/numpy values; the list
service (lists.py) turns the result into curation `Candidate`s once titles are known.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.catalog import selectors
from recsys.ml import scoring
from recsys.ml.events import STRENGTH
from recsys.ml.model_kinds import ScoreRequest
from recsys.ml.weights import event_confidences
from recsys.ops.lru import TimedLRU
from recsys.serving.reads import ShopperHistory

from .model_store import LoadedModel

CATEGORY_CACHE_SECONDS = 60.0
CATEGORY_CACHE_MAX = 256  # (model version, category) pairs kept per process: a request can name any category


@dataclass
class ModelHistory:
    """A shopper's history as the model sees it: columns (newest first), confidences, and the
    strongest event type per history item (for the wording of reasons)."""

    history: scoring.History
    strongest: dict[str, str]


@dataclass
class RawCandidate:
    item_id: str
    score: float
    because_of: str = ""  # the history / context item contributing most ("" for none)


def model_history(model: LoadedModel, hist: ShopperHistory, now: float) -> ModelHistory:
    conf = event_confidences(hist.types, hist.values, hist.timestamps, now=now, config=model.weights)
    scale = model.kind_model.confidence_scale
    if scale != 1.0:
        conf = conf * scale
    totals: dict[int, float] = {}
    strongest: dict[str, str] = {}
    for item_id, type_, c in zip(hist.item_ids, hist.types, conf.tolist(), strict=True):
        col = model.item_col(item_id)
        if col is None:
            continue
        totals[col] = totals.get(col, 0.0) + c  # dict keeps first-seen (newest) order
        if item_id not in strongest or STRENGTH.get(type_, 0) > STRENGTH.get(strongest[item_id], 0):
            strongest[item_id] = type_
    cols = np.fromiter((c for c, v in totals.items() if v > 0), dtype=np.int32)
    confs = np.fromiter((v for v in totals.values() if v > 0), dtype=np.float32)
    return ModelHistory(scoring.History(cols, confs), strongest)


def category_cols(model: LoadedModel, category: str) -> np.ndarray:
    """Model columns of the items in `category` (cached per version and process, an LRU of
    CATEGORY_CACHE_MAX: a replaced version's entries are the least recently used and go first)."""
    key = (model.version, category)
    arr = _category_cache.get(key)
    if arr is None:
        cols = [model.item_col(i) for i in selectors.item_ids_in_category(category=category)]
        arr = np.array(sorted(c for c in cols if c is not None), dtype=np.int32)
        _category_cache.put(key, arr)
    return arr


_category_cache = TimedLRU(CATEGORY_CACHE_MAX, lambda: CATEGORY_CACHE_SECONDS)


def clear_cache() -> None:
    _category_cache.clear()


@dataclass
class PersonalJob:
    """One personal list to score with the model; filled in by `score_personal`."""

    mh: ModelHistory
    n: int
    include_seen: bool
    category: str = ""
    result: list[RawCandidate] | None = None


def score_personal(model: LoadedModel, jobs: list[PersonalJob], *, num_threads: int = 1) -> None:
    """Score many shoppers at once; the model's kind decides how (ALS: fold-ins, then one batched
    top-k for all unrestricted lists)."""
    asked, requests = [], []
    for job in jobs:
        cands = category_cols(model, job.category) if job.category else None
        if cands is not None and len(cands) == 0:
            job.result = []  # nothing of the model's in this category
            continue
        h = job.mh.history
        requests.append(ScoreRequest(h, job.n, exclude=None if job.include_seen else h.cols, candidates=cands))
        asked.append(job)
    if not requests:
        return
    for job, scored in zip(asked, model.kind_model.score(requests, num_threads=num_threads), strict=True):
        job.result = _raw(model, scored.cols, scored.scores, scored.top_contributor)


def score_items(model: LoadedModel, context_item_ids: list[str], n: int, category: str = "") -> list[RawCandidate]:
    """Similar-item / basket candidates: summed similarity rows of the context items."""
    cols = [c for c in (model.item_col(i) for i in context_item_ids) if c is not None]
    if not cols:
        return []
    history = scoring.History(np.array(list(dict.fromkeys(cols)), dtype=np.int32),
                              np.ones(len(set(cols)), dtype=np.float32))
    cands = category_cols(model, category) if category else None
    scored = model.kind_model.similar_items(history, n, exclude=history.cols, candidates=cands)
    return _raw(model, scored.cols, scored.scores, scored.top_contributor)


def _raw(model: LoadedModel, cols, scores, top) -> list[RawCandidate]:
    item_ids = model.artifact.item_ids
    cols = np.asarray(cols, dtype=np.int64)
    top = np.asarray(top, dtype=np.int64)
    names = item_ids[cols].tolist()
    because = item_ids[np.clip(top, 0, None)].tolist()
    return [RawCandidate(n, s, b if t >= 0 else "")
            for n, s, b, t in zip(names, np.asarray(scores, dtype=np.float64).tolist(), because, top.tolist(),
                                  strict=True)]
