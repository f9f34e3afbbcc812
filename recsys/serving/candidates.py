"""Model candidates for each list type, with the raw material of their explanations.

Everything here works on one loaded model version and plain Python/numpy values; the list
service (lists.py) turns the result into curation `Candidate`s once titles are known.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from recsys.catalog import selectors as item_selectors
from recsys.ml import scoring
from recsys.ml.events import STRENGTH
from recsys.ml.weights import event_confidences
from recsys.serving.reads import ShopperHistory

from .model_store import LoadedModel

CATEGORY_CACHE_SECONDS = 60.0


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
    if model.alpha != 1.0:
        conf = conf * model.alpha
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
    """Model columns of the items in `category` (cached per version and process)."""
    cache = _category_cache(model)
    hit = cache.get(category)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CATEGORY_CACHE_SECONDS:
        return hit[1]
    cols = [model.item_col(i) for i in item_selectors.item_ids_in_category(category=category)]
    arr = np.array(sorted(c for c in cols if c is not None), dtype=np.int32)
    cache[category] = (now, arr)
    return arr


_category_caches: dict[int, dict] = {}
_category_lock = threading.Lock()


def _category_cache(model: LoadedModel) -> dict:
    with _category_lock:
        cache = _category_caches.get(model.version)
        if cache is None:
            _category_caches.clear()  # only the serving version's cache is kept
            cache = _category_caches[model.version] = {}
        return cache


@dataclass
class PersonalJob:
    """One personal list to score with the model; filled in by `score_personal`."""

    mh: ModelHistory
    n: int
    include_seen: bool
    category: str = ""
    result: list[RawCandidate] | None = None


def score_personal(model: LoadedModel, jobs: list[PersonalJob], *, num_threads: int = 1) -> None:
    """Score many shoppers at once: fold-ins, then one batched top-k for all unfiltered lists."""
    if model.kind == "itemknn":
        for job in jobs:
            h = job.mh.history
            cands = category_cols(model, job.category) if job.category else None
            scored = scoring.knn_scores(model.artifact.similarity, h, job.n,
                                        exclude_cols=() if job.include_seen else h.cols, candidates=cands)
            job.result = _raw(model, scored.cols, scored.scores, scored.top_contributor)
        return
    factors = model.artifact.item_factors
    folded = [scoring.als_fold_in(factors, model.yty, model.regularization, job.mh.history) for job in jobs]
    plain = [i for i, job in enumerate(jobs) if not job.category]
    if len(plain) == 1:  # the common case, one list: exact top-k over the items in norm order
        job = jobs[plain[0]]
        ids, scores = scoring.als_top_pruned(factors, model.norm_order, folded[plain[0]][0], job.n,
                                             None if job.include_seen else job.mh.history.cols)
        _finish_als(model, job, folded[plain[0]][1], ids, scores)
    elif plain:
        vectors = np.stack([folded[i][0] for i in plain])  # a batch: one blocked top-k for all rows
        exclude = scoring.exclusion_rows(
            [scoring.History.empty() if jobs[i].include_seen else jobs[i].mh.history for i in plain],
            model.n_items)
        n = max(jobs[i].n for i in plain)
        ids, scores = scoring.als_top(factors, vectors, n, exclude, num_threads=num_threads)
        for row, i in enumerate(plain):
            _finish_als(model, jobs[i], folded[i][1], ids[row][: jobs[i].n], scores[row][: jobs[i].n])
    for i, job in enumerate(jobs):
        if job.category:
            cands = category_cols(model, job.category)
            if len(cands) == 0:
                job.result = []
                continue
            exclude = None if job.include_seen else job.mh.history.cols
            ids, scores = scoring.als_top(factors, folded[i][0][None, :], job.n, exclude, candidates=cands,
                                          num_threads=num_threads)
            _finish_als(model, job, folded[i][1], ids[0], scores[0])


def _finish_als(model: LoadedModel, job: PersonalJob, system, ids: np.ndarray, scores: np.ndarray) -> None:
    keep = (ids >= 0) & (scores > scoring.FILTERED)  # topk marks filtered columns -FLT_MAX
    ids, scores = ids[keep], scores[keep]
    top = scoring.als_explain(model.artifact.item_factors, system, job.mh.history, ids)
    job.result = _raw(model, ids, scores, top)


def score_items(model: LoadedModel, context_item_ids: list[str], n: int, category: str = "") -> list[RawCandidate]:
    """Similar-item / basket candidates: summed similarity rows of the context items."""
    cols = [c for c in (model.item_col(i) for i in context_item_ids) if c is not None]
    if not cols:
        return []
    history = scoring.History(np.array(list(dict.fromkeys(cols)), dtype=np.int32),
                              np.ones(len(set(cols)), dtype=np.float32))
    cands = category_cols(model, category) if category else None
    scored = scoring.knn_scores(model.artifact.similarity, history, n, exclude_cols=history.cols, candidates=cands)
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
