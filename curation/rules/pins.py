"""3. Pins: each pinned item at its fixed position, before the free positions are filled.

Two pins on one position: higher priority wins, then the newer rule; the loser takes the next free position after
its own. A pin is removed only by a block, unavailability or an exclusion: a pinned item the shopper has seen is
still shown. Boosts never move a pin (pins take their positions from the other pins alone).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .entries import NO_RULES, Entry
from .filters import filter_reason
from .holdouts import Holdouts
from .targets import item_rules
from .types import (
    BLOCK,
    BLOCKED,
    PIN_BEYOND_LIMIT,
    PIN_DUPLICATE,
    PIN_SKIPPED,
    PINNED,
    Context,
    ItemInfo,
    Removed,
    Rule,
)

if TYPE_CHECKING:
    from .index import Bucket


def pinned_slots(view: Bucket | None, context: Context, by_id: dict[str, Entry],
                 item_info: Callable[[str], ItemInfo | None], *, limit: int,
                 removed: list[Removed] | None, warnings: list[str] | None,
                 held: Holdouts | None = None, held_pins: frozenset[int] = frozenset(),
                 resolved: dict | None = None) -> list[Entry | None]:
    """The list's positions with each pin in place (None: free), pins in `view.pin_order`: winners first (the
    best pin of each position by precedence), then the losers, each to the next free position after its own.
    `held`: the shopper's holdouts (their rules are off the pinned items); `held_pins`: the pins held out;
    `resolved`: pinned items already looked at in this request (see `pin_entry`)."""
    slots: list[Entry | None] = [None] * limit
    if view is None or not view.pins:
        return slots
    order = view.pin_order_without(held_pins) if held_pins else view.pin_order
    report = removed is not None
    pinned_ids: set[str] = set()
    free = limit
    for pin in order:
        if not free and not report:
            break  # the list is all pins: the rest cannot place (only the preview wants to know)
        if pin.item_id in pinned_ids:
            if report:
                removed.append(Removed(pin.item_id, None, "pin_duplicate",
                                       pin.ref(PIN_DUPLICATE, "ignored: item already pinned")))
            continue
        start = slot = pin.position - 1
        while slot < limit and slots[slot] is not None:
            slot += 1
        if slot >= limit:
            if report:
                if start < limit:
                    warnings.append(f"{pin.title}: no free position from #{pin.position} on")
                removed.append(Removed(pin.item_id, None, "pin_beyond_limit",
                                       pin.ref(PIN_BEYOND_LIMIT, "beyond the list length")))
            continue
        entry = by_id.get(pin.item_id)
        if entry is None or not entry.kept:
            entry = pin_entry(pin, entry, context, view, item_info, removed, warnings, held, resolved)
            if entry is None:
                continue
        if slot != start:
            if report:
                winner = slots[start]
                warnings.append(f"{pin.title} conflicts with the pin of {winner.cand.item_id if winner else '?'} "
                                f"at #{pin.position}; moved to #{slot + 1}")
            entry.fire(pin.ref(PINNED, f"pinned at #{pin.position}, lost the conflict, moved to #{slot + 1}"))
        else:
            entry.fire(pin.pinned_ref)
        entry.pinned = True
        slots[slot] = entry
        free -= 1
        pinned_ids.add(pin.item_id)
    return slots


def pin_entry(pin: Rule, seen_entry: Entry | None, ctx: Context, view: Bucket, item_info, removed, warnings,
              held: Holdouts | None = None, resolved: dict | None = None) -> Entry | None:
    """An entry for a pinned item that is not among the kept candidates (seen, or not a candidate), or None
    if it cannot be shown.

    `resolved` keeps what was found per item, (candidate, info, algorithm rank, rules) or None (filters and
    rules do not change within a request), so a second arrangement of the same request does not look again;
    it is read only without a report, since the first look is the one that reports."""
    if resolved is not None and removed is None and pin.item_id in resolved:
        hit = resolved[pin.item_id]
    else:
        hit = _resolve(pin, seen_entry, ctx, view, item_info, removed, warnings)
        if resolved is not None:
            resolved[pin.item_id] = hit
    if hit is None:
        return None
    cand, info, algo_rank, rules = hit
    # A pinned entry is never boosted, and the held-out pass looks only at the kept candidates.
    if held is not None and rules:
        rules = [r for r in rules if r.id not in held]
    return Entry(cand, info, algo_rank, rules, boost=0.0, has_holdout=False)


def _resolve(pin: Rule, seen_entry: Entry | None, ctx: Context, view: Bucket, item_info, removed,
             warnings) -> tuple | None:
    if seen_entry is not None:
        info, cand, algo_rank = seen_entry.info, seen_entry.cand, seen_entry.algo_rank
        reason = ""  # seen: a pin brings it back
    else:
        info = item_info(pin.item_id)
        cand, algo_rank = pin.pinned_candidate, None
        reason = filter_reason(info, pin.item_id, ctx)
        if reason == "seen":
            reason = ""
    if reason:
        if removed is not None:
            label = "pin_unavailable" if reason == "unavailable" else f"pin_{reason}"
            if reason == "unavailable":
                warnings.append(f"{pin.title}: the pinned item is unavailable and is skipped")
            removed.append(Removed(pin.item_id, algo_rank, label, pin.ref(PIN_SKIPPED, f"skipped: item {reason}")))
        return None
    rules = item_rules(view, info) if view is not None else NO_RULES
    for rule in rules:
        if rule.kind == BLOCK:  # blocks are never held out
            if removed is not None:
                removed.append(Removed(pin.item_id, algo_rank, "blocked", rule.ref(BLOCKED, "blocked (beats the pin)")))
            return None
    return cand, info, algo_rank, rules
