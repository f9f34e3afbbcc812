"""1. Filters: unavailable, excluded ("not interested", the cart), outside the list's category, seen, blocked.

A block beats everything, pins included. A seen item is kept aside rather than dropped: a pin may still bring it
back (a pin is removed only by a block, unavailability or an exclusion).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .entries import NO_RULES, Entry
from .targets import item_match
from .types import BLOCKED, Candidate, Context, ItemInfo, Removed

if TYPE_CHECKING:
    from .index import Bucket


def filter_reason(info: ItemInfo | None, item_id: str, ctx: Context) -> str:
    """Why this item cannot be listed ("" if it can): unavailable, excluded, category or seen (rules aside)."""
    if info is None or not info.available:
        return "unavailable"
    if item_id in ctx.excluded:
        return "excluded"
    if ctx.category and info.category != ctx.category:
        return "category"
    if not ctx.include_seen and item_id in ctx.seen:
        return "seen"
    return ""


def filtered(candidates: Iterable[Candidate], context: Context, view: Bucket | None,
             item_info: Callable[[str], ItemInfo | None], *, limit: int | None,
             removed: list[Removed] | None) -> tuple[list[Entry], dict[str, Entry]]:
    """The survivors in algorithm order, and every entry looked at by item id (seen items are there, not among
    the survivors). After `limit` survivors (None: no limit) the rest of the candidates are not looked at."""
    kept: list[Entry] = []
    by_id: dict[str, Entry] = {}
    for algo_rank, cand in enumerate(candidates, start=1):
        item_id = cand.item_id
        if item_id in by_id:
            continue  # a duplicate candidate: shown once, at its best rank
        info = item_info(item_id)
        reason = filter_reason(info, item_id, context)
        if reason:
            if reason == "seen":  # kept aside for the pins
                by_id[item_id] = Entry(cand, info, algo_rank, NO_RULES, False, 0.0, False)
            if removed is not None:
                removed.append(Removed(item_id, algo_rank, reason))
            continue
        if view is None:
            entry = Entry(cand, info, algo_rank, NO_RULES, True, 0.0, False)
        else:
            match = item_match(view, info)
            if match.block is not None:
                if removed is not None:
                    removed.append(Removed(item_id, algo_rank, "blocked", match.block.ref(BLOCKED, "blocked")))
                continue
            entry = Entry(cand, info, algo_rank, match.rules, True, match.boost, match.has_holdout)
        by_id[item_id] = entry
        kept.append(entry)
        if limit is not None and len(kept) >= limit:
            break
    return kept, by_id
