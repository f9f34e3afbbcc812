"""A held-out shopper's list: served without the held rules, each position marked with the held rules that would
have filled it (`RankedItem.holdout_rule_ids`: what was shown there instead), so that every rule is measured
against its own holdout.

The positions are where the full engine, nobody held out, puts the items the held rules touch: a held label that
moves nothing is where its item is; held pins or boosts move items, so the same entries are arranged a second
time with every rule. One filter pass serves both arrangements: filters never depend on held rules (blocks have
no holdout), so the two differ only in the rules the entries carry.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .arrangement import arranged
from .entries import Entry
from .explanations import explained_list, shown, touched_by
from .holdouts import Holdouts
from .targets import item_rules
from .types import BOOST, Context, CurationResult, RankedItem, Removed, Rule

if TYPE_CHECKING:
    from .index import Bucket


def served_with_holdouts(kept: list[Entry], by_id: dict[str, Entry], context: Context, view: Bucket, item_info,
                         held: Holdouts, *, limit: int, removed: list[Removed] | None,
                         warnings: list[str] | None) -> CurationResult:
    """The list of a request with holdouts to draw (`kept`, `by_id`: what the filters left)."""
    matched, full = _take_off_held_rules(by_id, held)
    resolved: dict[str, tuple | None] = {}
    # A pin beyond the list's length never lands (pins only move down) nor moves another: not drawn.
    held_pins = frozenset(pin_id for pin_id, position in view.holdout_pins if position <= limit and pin_id in held)
    final = arranged(list(kept), by_id, context, view, item_info, limit=limit, removed=removed,
                     warnings=warnings, held=held, held_pins=held_pins, resolved=resolved)
    items = explained_list(final, view.measured_ids)
    for hit in resolved.values():  # pinned items that were not candidates carry rules too
        if hit is not None:
            matched.update(r.id for r in hit[3] if r.id in held)
    if held_pins or any(view.kind_of[rule_id] == BOOST for rule_id in matched):
        positions = _would_be_positions(final, kept, by_id, full, context, view, item_info, held, limit=limit,
                                        resolved=resolved)
    else:
        positions = _label_positions(final, view, matched) if matched else {}
    _mark(items, positions)
    return CurationResult(items, removed or [], warnings or [], held_out=tuple(sorted(held.held)))


def _take_off_held_rules(by_id: dict[str, Entry], held: Holdouts) -> tuple[set[int], dict[str, list[Rule]]]:
    """Take the held rules off the entries (drawing each rule they carry): the ids of those held, and each
    changed entry's rules as they were."""
    matched: set[int] = set()
    full: dict[str, list[Rule]] = {}
    for item_id, entry in by_id.items():
        if entry.has_holdout:
            rules = entry.rules
            hits = [r.id for r in rules if r.id in held]
            if hits:
                matched.update(hits)
                full[item_id] = rules
                entry.set_rules([r for r in rules if r.id not in held])
    return matched, full


def _would_be_positions(final: list[Entry], kept: list[Entry], by_id: dict[str, Entry], full: dict[str, list[Rule]],
                        context: Context, view: Bucket, item_info, held: Holdouts, *, limit: int,
                        resolved: dict) -> dict[int, list[int]]:
    """Held pins or boosts would have moved items: arrange the same entries, reset, with every rule and no
    bookkeeping, and note the ranks each held rule touches. Only the served entries were arranged and explained
    (the boost step sets every kept entry's key and strength anew)."""
    for entry in final:
        entry.reset()
    for item_id, rules in full.items():
        by_id[item_id].set_rules(rules)
    would = arranged(kept, by_id, context, view, item_info, limit=limit, removed=None, warnings=None,
                     resolved=resolved)
    positions: dict[int, list[int]] = {}
    for rank, entry in enumerate(would, start=1):
        if entry.fired is None and not entry.rules:
            continue  # no rule touched it
        for rule_id in touched_by(entry):
            if rule_id in held:
                positions.setdefault(rule_id, []).append(rank)
    return positions


def _label_positions(final: list[Entry], view: Bucket, matched: set[int]) -> dict[int, list[int]]:
    """Only labels were held: they move nothing, so their positions are where their items are."""
    positions: dict[int, list[int]] = {}
    for rank, entry in enumerate(final, start=1):
        for rule in shown(item_rules(view, entry.info)) if entry.info is not None else ():
            if rule.id in matched:
                positions.setdefault(rule.id, []).append(rank)
    return positions


def _mark(items: list[RankedItem], positions: dict[int, list[int]]) -> None:
    at_rank: dict[int, set[int]] = {}
    for rule_id, ranks in positions.items():
        for rank in ranks:
            at_rank.setdefault(rank, set()).add(rule_id)
    for item in items:
        ids = at_rank.get(item.rank)
        if ids:
            item.holdout_rule_ids = tuple(sorted(ids))
