"""The list service: every recommendation list of every endpoint is produced by `serve_lists`.

Per call (one list, or a batch answered in bulk): one history query for all shoppers, the model
from the process's memory-mapped store, candidates best first (model, then popular as refill),
one availability query over all candidates, cached item cards, then the curation engine
(`curation.rules.apply`) decides the final list. `serve_lists` is the one place to hook
impressions and control groups. `candidates_without_curation` is everything before the curation
call (the admin preview's algorithm column and the `raw=true` lists are built from it).
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from curation import rules
from curation.live_rules import current_rules
from recsys.analytics import served_lists
from recsys.catalog.availability import unavailable_items
from recsys.feedback.selectors import not_interested_item_ids
from recsys.ml import content
from recsys.ml.events import DEFAULT_TYPE, EVENT_VERBS, STRENGTH
from recsys.serving.item_cards import ItemCard, item_card, item_cards
from recsys.serving.reads import ShopperHistory, serving_reads, shopper_histories

from . import candidates, content_lists
from .content_lists import ContentCandidate
from .model_store import LoadedModel, active_model
from .popular import new_item_impressions, popular_items

PERSONAL, SIMILAR, BASKET, POPULAR, BATCH = "personal", "similar", "basket", "popular", "batch"


class UnknownItem(Exception):
    """The context item of a similar-item list is not in the catalog."""

    def __init__(self, item_id: str):
        super().__init__(item_id)
        self.item_id = item_id


@dataclass
class ListRequest:
    list_type: str  # personal | similar | basket | popular | batch
    limit: int = 10
    placement: str = ""
    category: str = ""
    user_id: str = ""
    include_seen: bool = False
    item_ids: tuple[str, ...] = ()  # similar: the item; basket: the cart
    explain_full: bool = False
    raw: bool = False  # the algorithm's list: the engine's filters, no curation rules
    # False: a public token named the shopper without a valid signature (recsys.clients.shopper_signatures):
    # the list is the one an unknown shopper gets (nothing about the shopper is read), and its impressions
    # are stored without the shopper's id and count toward no rule's verdict.
    shopper_verified: bool = True


@dataclass
class _Plan:
    raw: list[candidates.RawCandidate]  # model candidates, best first
    popular: list[tuple[str, float]]  # refill (or the whole list without a model)
    used_model: bool
    history: ShopperHistory | None
    personal: bool  # the shopper's data may be used (consent and history)
    reason_kind: str = "history"  # history | similar | basket
    job: candidates.PersonalJob | None = None
    strongest: dict[str, str] = field(default_factory=dict)  # history item -> its strongest event type
    content: list[ContentCandidate] | None = None  # similar lists: behaviour blended with content (replaces raw)
    explore: list[ContentCandidate] = field(default_factory=list)  # personal lists: new items for the slots
    explore_at: list[int] = field(default_factory=list)  # their 1-based positions


@dataclass
class Uncurated:
    """One list up to the curation call: the algorithm's candidates (best first, more than `limit`),
    the engine's context, and what the engine needs to know about items."""

    request: ListRequest
    candidates: list[rules.Candidate]
    context: rules.Context
    item_info: Callable[[str], rules.ItemInfo | None]
    cards: dict[str, ItemCard]
    model_version: int | None  # the version that produced the candidates (None: no model took part)


def candidates_without_curation(requests: list[ListRequest], *, at: datetime | None = None,
                                extra_item_ids=()) -> list[Uncurated]:
    """Each list as the algorithm makes it, before any curation rule: what `serve_lists` hands the
    engine. `at` is the moment the context carries (rule windows; default now); `extra_item_ids`
    (e.g. pinned items) get cards and availability too. Raises UnknownItem for similar lists."""
    now = timezone.now()
    extra = frozenset(extra_item_ids)
    return _uncurated(requests, now, at or now, lambda _i, _ctx: extra)


def serve_lists(requests: list[ListRequest]) -> list[dict]:
    """Produce the list response for each request, in order. Raises UnknownItem for similar lists."""
    now = timezone.now()
    live = current_rules()
    # Randomized control traffic gets no curation but blocks and diversity; `raw=true` lists (the
    # algorithm's list beside the curated one) only blocks, and record no impressions.
    control = [not r.raw and served_lists.in_control(r.user_id, now) for r in requests]
    applied = [served_lists.blocks_of(live) if r.raw else served_lists.rules_for(live, c)
               for r, c in zip(requests, control, strict=True)]

    def pinned(i: int, context: rules.Context) -> frozenset[str]:
        # Pinned items may not be candidates at all: the engine needs their cards and availability too
        # (only those of the pins that can apply on this list, at a position it reaches).
        return applied[i].pinned_item_ids(context, requests[i].limit)

    out = []
    for i, u in enumerate(_uncurated(requests, now, now, pinned, lazy_extra=True)):
        request = u.request
        ranked = rules.apply(u.candidates, u.context, applied[i], limit=request.limit, item_info=u.item_info)
        out.append(_response(request, u, ranked))
        if not request.raw:
            verified = request.shopper_verified
            served_lists.record(list_type=request.list_type, placement=request.placement,
                                 user_id=request.user_id if verified else "", response=out[-1], ranked=ranked,
                                 control=control[i], count_rules=verified)  # off the request path
    return out


def _uncurated(requests: list[ListRequest], now: datetime, at: datetime,
               extra_item_ids: Callable[[int, rules.Context], frozenset[str]], *,
               lazy_extra: bool = False) -> list[Uncurated]:
    """`extra_item_ids(i, context)`: items beyond the candidates that list i may need cards for.
    `lazy_extra`: when the availability of the whole catalog came with the shopper's history, those
    cards are looked up only if the engine asks (of the ~10 pins a list holds, most of a view's pins
    within its reach are never looked at)."""
    model = active_model()
    user_ids = list(dict.fromkeys(r.user_id for r in requests if r.user_id and r.shopper_verified))
    histories, not_interested = _shopper_data(user_ids)
    unavailable = unavailable_items()  # per process, reloaded when the catalog stamp moves
    context_cards = item_cards([i for r in requests for i in r.item_ids])
    for r in requests:
        if r.list_type == SIMILAR and r.item_ids[0] not in context_cards:
            raise UnknownItem(r.item_ids[0])

    plans = [_plan(r, model, histories.get(r.user_id) if r.shopper_verified else None, context_cards, now.timestamp())
             for r in requests]
    jobs = [p.job for p in plans if p.job is not None]
    if jobs:
        candidates.score_personal(model, jobs, num_threads=settings.SERVING_NUM_THREADS)
        for p in plans:
            if p.job is not None:
                p.raw = p.job.result or []
                p.used_model = bool(p.raw)
    contexts = [_context(r, plan, not_interested.get(r.user_id, frozenset()) if r.shopper_verified else frozenset(), at)
                for r, plan in zip(requests, plans, strict=True)]
    for r, plan, context in zip(requests, plans, contexts, strict=True):
        _explore(r, plan, model, context, unavailable, now.timestamp())

    lazy = lazy_extra  # extra cards on demand: their availability is known without a query
    wanted: set[str] = set()
    for i, (p, context) in enumerate(zip(plans, contexts, strict=True)):
        wanted.update(c.item_id for c in p.raw)
        wanted.update(c.because_of for c in p.raw if c.because_of)
        wanted.update(item_id for item_id, _ in p.popular)
        for c in (p.content or ()):
            wanted.update((c.item_id, c.because_of))
        for c in p.explore:
            wanted.update((c.item_id, c.because_of))
        if not lazy:
            wanted.update(extra_item_ids(i, context))
    cards = {**context_cards, **item_cards(list(wanted))}  # a query only for cards not cached yet

    def info(item_id: str):
        card = cards.get(item_id)
        if card is None:
            if not lazy:
                return None
            # A pinned item that was no candidate (its availability is known: the catalog's is cached).
            card = item_card(item_id)
            if card is None:
                return None
            cards[item_id] = card
        return card.engine_info_unavailable if item_id in unavailable else card.engine_info

    version = model.version if model is not None else None
    return [Uncurated(r, _with_exploration(_candidates(r, plan, cards), r, plan, cards, context, unavailable),
                      context, info, cards, version if plan.used_model else None)
            for r, plan, context in zip(requests, plans, contexts, strict=True)]


def _shopper_data(user_ids: list[str]):
    """Histories and "not interested" items: one round trip for one shopper, two for a batch."""
    limit = settings.SERVING_HISTORY_LIMIT
    if not user_ids:
        return {}, {}
    if len(user_ids) == 1:
        hist = serving_reads(user_id=user_ids[0], limit=limit)
        if hist is None:
            return {}, {}
        return ({hist.user_id: hist} if hist.known else {}), {hist.user_id: hist.not_interested}
    return shopper_histories(user_ids=user_ids, limit=limit), not_interested_item_ids(user_ids=user_ids)


def _plan(r: ListRequest, model: LoadedModel | None, hist: ShopperHistory | None,
          context_cards: dict[str, ItemCard], now: float) -> _Plan:
    personal = hist is not None and hist.consent and hist.known
    n = r.limit * 2 + 10  # model candidates; popular items follow as the refill
    n_popular = n + (len(hist.seen) if personal and not r.include_seen else 0) + len(r.item_ids)
    category = r.category
    if r.list_type == SIMILAR and not category:
        # Without a model for this item, the next best thing is what is popular in its category.
        card = context_cards.get(r.item_ids[0])
        fallback_category = card.category if card else ""
    else:
        fallback_category = category
    plan = _Plan(raw=[], popular=[], used_model=False, history=hist, personal=personal)

    if model is not None:
        if r.list_type in (PERSONAL, BATCH) and personal:
            mh = candidates.model_history(model, hist, now)
            if len(mh.history):
                plan.job = candidates.PersonalJob(mh, n, r.include_seen, category)
                plan.reason_kind = "history"
                plan.strongest = mh.strongest
        elif r.list_type in (SIMILAR, BASKET):
            plan.raw = candidates.score_items(model, list(r.item_ids), n, category)
            plan.used_model = bool(plan.raw)
            plan.reason_kind = "similar" if r.list_type == SIMILAR else "basket"
            if r.list_type == SIMILAR and model.content is not None:
                # Content neighbours: the whole list for an item behaviour barely knows, blended otherwise.
                blended = content_lists.similar(model.content, r.item_ids[0], plan.raw, model.item_col(r.item_ids[0]),
                                                n, now)
                if blended:
                    plan.content, plan.used_model = blended, True
    popular = popular_items(category=fallback_category, n=n_popular)
    if r.list_type == SIMILAR and fallback_category and not category:
        have = {i for i, _ in popular}
        popular += [p for p in popular_items(n=n_popular) if p[0] not in have]
    plan.popular = popular
    return plan


def _candidates(r: ListRequest, plan: _Plan, cards: dict[str, ItemCard]) -> list[rules.Candidate]:
    out = []
    seen_ids = set()
    strongest = plan.strongest
    for c in plan.raw if plan.content is None else ():
        seen_ids.add(c.item_id)
        out.append(rules.Candidate(c.item_id, round(c.score, 6), "model",
                                            _model_reasons(plan.reason_kind, c.because_of, cards, strongest)))
    for c in plan.content or ():
        card = cards.get(c.item_id)
        if r.category and (card is None or card.category != r.category):
            continue
        seen_ids.add(c.item_id)
        reasons = _content_reasons(c, cards) if c.kind == "content" else \
            _model_reasons("similar", c.because_of, cards, strongest)
        out.append(rules.Candidate(c.item_id, c.score, "new" if c.new else "model", reasons))
    for item_id, score in plan.popular:
        if item_id in seen_ids:
            continue
        seen_ids.add(item_id)
        card = cards.get(item_id)
        text = f"Popular in {card.category}" if (r.category and card and card.category) else "Popular right now"
        out.append(rules.Candidate(item_id, score, "popular", [{"type": "popular", "text": text}]))
    return out


def _model_reasons(kind: str, because_of: str, cards: dict[str, ItemCard], strongest: dict[str, str]) -> list[dict]:
    card = cards.get(because_of) if because_of else None
    if card is None:
        return [{"type": "similar" if kind != "history" else "history", "text": "Recommended for you"}]
    if kind == "history":
        verb = EVENT_VERBS.get(strongest.get(because_of, DEFAULT_TYPE), EVENT_VERBS[DEFAULT_TYPE])
        return [{"type": "history", "text": f"Because you {verb} {card.title}", "item_id": because_of}]
    if kind == "basket":
        return [{"type": "similar", "text": f"Goes with {card.title} in your cart", "item_id": because_of}]
    return [{"type": "similar", "text": f"Similar to {card.title}", "item_id": because_of}]


def _content_reasons(c: ContentCandidate, cards: dict[str, ItemCard]) -> list[dict]:
    """A `content` reason naming what the item shares with the context item (recsys.ml.content)."""
    card = cards.get(c.because_of)
    title = card.title if card else c.because_of
    fields, words = content.shared_fields(c.terms)
    if fields:
        named = fields[0] if len(fields) == 1 else ", ".join(fields[:-1]) + " and " + fields[-1]
        text = f"Same {named} as {title}"
    elif words:
        text = f"Like {title}: " + ", ".join(f"“{w}”" for w in words)
    else:
        text = f"Like {title}"
    if c.new:
        text = "New arrival. " + text
    return [{"type": "content", "text": text, "item_id": c.because_of}]


def _explore(r: ListRequest, plan: _Plan, model: LoadedModel | None, context: rules.Context,
             unavailable: frozenset[str], now: float) -> None:
    """Pick the new items for a personal list's exploration slots (recsys.serving.content_lists): only with the
    shopper's consent and history, a model with a content index, and exploration on for the placement."""
    view = model.content if model is not None else None
    if (view is None or len(view.pool) == 0 or r.list_type not in (PERSONAL, BATCH) or not plan.personal
            or plan.history is None or r.placement in settings.EXPLORATION_OFF_PLACEMENTS):
        return
    positions = content_lists.slot_positions(r.limit, settings.EXPLORATION_SLOTS)
    if not positions:
        return

    class Skip:  # the engine's filters, known here without building a union of the sets
        def __contains__(self, item_id: str) -> bool:
            return not _survives(item_id, context, unavailable)

    # A few more than the slots: a category filter or a block may still remove some.
    plan.explore = content_lists.explore(view, plan.history.item_ids, 3 * len(positions), now=now, skip=Skip(),
                                         impressions=new_item_impressions())
    plan.explore_at = positions


def _survives(item_id: str, context: rules.Context, unavailable: frozenset[str]) -> bool:
    return (item_id not in unavailable and item_id not in context.excluded
            and (context.include_seen or item_id not in context.seen))


def _with_exploration(out: list[rules.Candidate], r: ListRequest, plan: _Plan, cards: dict[str, ItemCard],
                      context: rules.Context, unavailable: frozenset[str]) -> list[rules.Candidate]:
    """Put the exploration picks where the engine's filters leave them at their slots' positions, each scored under the
    weakest model pick of the list (source `new`, a `content` reason naming the history item). A pick a block rule
    removes gives its slot to the next candidate, not to another new item (blocks are the engine's to apply)."""
    if not plan.explore:
        return out
    have = {c.item_id for c in out}
    picks = [c for c in plan.explore if c.item_id not in have and c.item_id in cards
             and (not r.category or cards[c.item_id].category == r.category)][:len(plan.explore_at)]
    if not picks:
        return out
    history = plan.history
    result: list[rules.Candidate] = []
    survivors = 0
    queue = list(zip(plan.explore_at, picks, strict=False))
    floor = min((c.score for c in out if c.source == "model" and c.score > 0), default=1.0)
    for cand in out:
        while queue and survivors == queue[0][0] - 1:
            _, pick = queue.pop(0)
            result.append(_explore_candidate(pick, cards, history, floor))
            survivors += 1
        result.append(cand)
        if _survives(cand.item_id, context, unavailable):
            survivors += 1
    for _, pick in queue:  # a short list: the slots follow what there is
        result.append(_explore_candidate(pick, cards, history, floor))
    return result


def _explore_candidate(pick: ContentCandidate, cards: dict[str, ItemCard], history: ShopperHistory | None,
                       floor: float) -> rules.Candidate:
    card = cards.get(pick.because_of)
    title = card.title if card else pick.because_of
    type_ = DEFAULT_TYPE
    if history is not None:
        types = [t for i, t in zip(history.item_ids, history.types, strict=True) if i == pick.because_of]
        type_ = max(types, key=lambda t: STRENGTH.get(t, 0), default=DEFAULT_TYPE)
    verb = EVENT_VERBS.get(type_, EVENT_VERBS[DEFAULT_TYPE])
    reason = {"type": "content", "text": f"New arrival, like {title} you {verb}", "item_id": pick.because_of}
    return rules.Candidate(pick.item_id, round(floor * 0.99 * min(pick.score, 1.0), 6), "new", [reason])


def _context(r: ListRequest, plan: _Plan, not_interested: frozenset[str], now) -> rules.Context:
    hist = plan.history
    seen = hist.seen if (plan.personal and hist is not None) else frozenset()
    excluded = frozenset(not_interested) | frozenset(r.item_ids)
    return rules.Context(
        list_type=r.list_type, now=now, placement=r.placement, category=r.category,
        context_item_id=r.item_ids[0] if r.list_type == SIMILAR else "", user_id=r.user_id,
        is_new_shopper=hist is None or not hist.known, seen=seen, include_seen=r.include_seen, excluded=excluded,
        context_item_ids=frozenset(r.item_ids) if r.list_type == BASKET else frozenset(),
        # Rule holdouts are drawn per shopper; an anonymous list draws anew for each request.
        holdout_key=r.user_id or os.urandom(8).hex(),
    )


def new_recommendation_id() -> str:
    """32 hex digits laid out as a UUIDv7: milliseconds first, then random bits. Impressions are
    indexed by this id, and time-ordered keys go in at the index's right edge instead of dirtying a
    random page of it per row."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 random bits, 74 kept
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | (rand & (2**62 - 1))
    return uuid.UUID(int=value).hex


def display_scores(ranked, offered: list[rules.Candidate]) -> list[float]:
    """Each ranked item's `score` in [0, 1], comparable within its list (docs/serving.md): a model (or new)
    candidate's raw score over the list's best raw model score; a popular candidate's decayed count
    over the list's best count, times the lowest positive model figure when the list has model items
    too (a fill never reads stronger than a pick with any evidence); an item that was no candidate
    (a pin from outside) 0.
    Raw scores differ in scale by model kind (ALS dot products, summed neighbour weights) and
    version; they stay in the trace (`?explain=full`)."""
    # A new item's figure (an exploration pick, a content neighbour) is on its list's model scale.
    origin = {c.item_id: ("model" if c.source == "new" else c.source, max(float(c.score), 0.0)) for c in offered}
    raws = [origin.get(item.item_id, ("", 0.0)) for item in ranked]
    top: dict[str, float] = {}
    for source, raw in raws:
        top[source] = max(top.get(source, 0.0), raw)
    model = [raw / top["model"] for source, raw in raws if source == "model" and raw > 0]
    popular_scale = min(model) if model else 1.0
    out = []
    for source, raw in raws:
        if source == "model":
            out.append(raw / top["model"] if top["model"] > 0 else 0.0)
        elif source == "popular":
            out.append(raw / top["popular"] * popular_scale if top["popular"] > 0 else 0.0)
        else:
            out.append(0.0)
    return out


def _response(r: ListRequest, u: Uncurated, ranked) -> dict:
    cards = u.cards
    items = []
    for item, score in zip(ranked, display_scores(ranked, u.candidates), strict=True):
        card = cards[item.item_id]
        entry = card.as_json()
        entry.update(rank=item.rank, score=round(score, 4), source=item.source,
                     reasons=item.reasons, annotations=item.annotations)
        if r.explain_full:
            entry["trace"] = item.trace
        items.append(entry)
    body = {
        "user_id": r.user_id or None,
        "recommendation_id": new_recommendation_id(),
        "model_version": u.model_version,
        "placement": r.placement or None,
        "items": items,
    }
    if r.raw:
        body["raw"] = True
    return body
