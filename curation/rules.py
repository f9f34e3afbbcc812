"""The curation rule engine: a pure function (no ORM) from ranked candidates to the final list.

Order (README "How curation applies"): filters (availability, seen, "not interested", blocks)
-> boosts -> pins -> refill to `limit` -> annotations. A pin is removed only by a block or
unavailability; a block beats a pin.

Serving builds `Candidate`s (more than `limit`, best first) and a `Context`, loads the active
rules once per rules-stamp, and calls `apply()`. Every list type goes through here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Candidate:
    item_id: str
    score: float
    source: str = "model"  # model | popular
    reasons: list[dict] = field(default_factory=list)


@dataclass
class Context:
    list_type: str  # personal | similar | basket | popular | batch
    now: datetime
    placement: str = ""
    category: str = ""
    context_item_id: str = ""
    user_id: str = ""
    is_new_shopper: bool = True
    seen: frozenset[str] = frozenset()
    include_seen: bool = False
    excluded: frozenset[str] = frozenset()  # never shown, not even pinned ("not interested", the cart)


@dataclass
class ItemInfo:
    """What the engine needs to know about an item to match rules."""

    item_id: str
    category: str = ""
    attributes: dict = field(default_factory=dict)
    available: bool = True


@dataclass
class RankedItem:
    item_id: str
    rank: int
    score: float
    source: str
    reasons: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)
    trace: dict = field(default_factory=dict)


def apply(
    candidates: Iterable[Candidate],
    context: Context,
    rules: Iterable = (),
    *,
    limit: int,
    item_info: Callable[[str], ItemInfo | None],
) -> list[RankedItem]:
    """Filter, curate and cut `candidates` to at most `limit` items, best first."""
    out: list[RankedItem] = []
    for algo_rank, cand in enumerate(candidates, start=1):
        info = item_info(cand.item_id)
        if info is None or not info.available:
            continue
        if cand.item_id in context.excluded:
            continue
        if not context.include_seen and cand.item_id in context.seen:
            continue
        if context.category and info.category != context.category:
            continue
        out.append(RankedItem(cand.item_id, 0, cand.score, cand.source, list(cand.reasons),
                              trace={"algorithm_rank": algo_rank, "algorithm_score": cand.score, "rules": []}))
        if len(out) >= limit:
            break
    for rank, item in enumerate(out, start=1):
        item.rank = rank
        item.trace["final_rank"] = rank
    return out
