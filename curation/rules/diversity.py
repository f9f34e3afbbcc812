"""4. Refill: the positions the pins left free, filled with the boosted survivors in order; under diversity caps
when a diversity rule is in scope.

Diversity: no list in a diversity rule's scope shows more than `max_per_category` items of one category, or more
than `max_per_attribute[name]` items with one value of that attribute. It runs on the boosted order while the free
positions are filled around the pins: pins count toward a cap but are never removed by it, and the next candidates
take the freed places (the same list as capping before pins with the pins counted first). `min_new_items` brings
in, where candidates allow, that many items added to the catalog within `new_item_days`, in place of the lowest
non-pinned ones.
"""
from __future__ import annotations

from datetime import timedelta

from .entries import Entry
from .types import (
    ADDED_AS_NEW,
    CAPPED,
    MAX_NEW_ITEM_DAYS,
    MOVED_UP,
    REPLACED_BY_NEW,
    Context,
    ItemInfo,
    Removed,
    Rule,
    precedence,
)


class Caps:
    """The diversity caps in force (the tightest of each rule in scope) and the counts so far."""

    __slots__ = ("per_category", "per_attribute", "counts", "rule_of", "last_key", "newest")

    def __init__(self, rules: list[Rule] = ()) -> None:
        self.per_category = 0
        self.per_attribute: dict[str, int] = {}
        self.rule_of: dict[str, Rule] = {}  # "category" or the attribute name -> the rule that set its cap
        for rule in sorted(rules, key=precedence):
            if rule.max_per_category and (not self.per_category or rule.max_per_category < self.per_category):
                self.per_category, self.rule_of["category"] = rule.max_per_category, rule
            for name, cap in rule.max_per_attribute:
                if cap and (name not in self.per_attribute or cap < self.per_attribute[name]):
                    self.per_attribute[name], self.rule_of[name] = cap, rule
        self.counts: dict[tuple[str, str], int] = {}
        self.last_key = "category"
        self.newest = [r for r in rules if r.min_new_items and r.new_item_days > 0]  # room for new items

    def fresh(self) -> Caps:
        """The same caps with no item counted yet (the caps of a view are worked out once)."""
        out = Caps.__new__(Caps)  # not __init__: the caps are the template's, only the counts are new
        out.per_category, out.per_attribute, out.rule_of = self.per_category, self.per_attribute, self.rule_of
        out.newest, out.counts, out.last_key = self.newest, {}, "category"
        return out

    def _keys(self, info: ItemInfo | None) -> list[tuple[str, str]]:
        if info is None:
            return []
        keys = [("category", info.category)] if self.per_category and info.category else []
        for name in self.per_attribute:
            value = info.attributes.get(name) if info.attributes else None
            if value is not None and value != "":
                keys.append((name, str(value)))
        return keys

    def over(self, info: ItemInfo | None) -> tuple[str, str] | None:
        """The (dimension, value) this item would take over its cap, or None if it fits."""
        for key in self._keys(info):
            cap = self.per_category if key[0] == "category" else self.per_attribute[key[0]]
            if self.counts.get(key, 0) >= cap:
                return key
        return None

    def cap(self, dimension: str) -> int:
        return self.per_category if dimension == "category" else self.per_attribute[dimension]

    def count(self, info: ItemInfo | None, delta: int = 1) -> None:
        for key in self._keys(info):
            self.counts[key] = self.counts.get(key, 0) + delta


def refill(slots: list[Entry | None], kept: list[Entry], *, removed: list[Removed] | None) -> list[Entry]:
    """Refill the free positions with the (boosted) survivors in order, then close gaps."""
    pinned_ids = {e.cand.item_id for e in slots if e is not None}
    rest = (e for e in kept if e.cand.item_id not in pinned_ids)
    for i in range(len(slots)):
        if slots[i] is None:
            slots[i] = next(rest, None)
    if removed is not None:
        for entry in rest:
            removed.append(Removed(entry.cand.item_id, entry.algo_rank, "cut"))
    return [e for e in slots if e is not None]


def diverse_refill(slots: list[Entry | None], kept: list[Entry], template: Caps, context: Context, *,
                   removed: list[Removed] | None) -> list[Entry]:
    """Refill under the diversity caps: pins count first and stay; a survivor that would exceed a
    cap is skipped and the next one takes the place. Then room for new items (`min_new_items`)."""
    if removed is None and None not in slots:
        return slots  # all pins: the caps never remove a pin, and new items only replace what is not pinned
    caps = template.fresh()
    for entry in slots:
        if entry is not None:
            caps.count(entry.info)
    # The kept candidates not pinned (a pinned candidate is the same entry as in its slot).
    i, n, capped = 0, len(kept), False
    for slot in range(len(slots)):
        if slots[slot] is not None:
            continue
        while i < n:
            entry = kept[i]
            i += 1
            if entry.pinned:
                continue
            key = caps.over(entry.info)
            if key is None:
                caps.count(entry.info)
                slots[slot] = entry
                if capped:  # it moved up into a place a capped item would have taken
                    entry.fire(caps.rule_of[caps.last_key].ref(MOVED_UP, "moved up: a capped item made room"))
                break
            capped = True
            caps.last_key = key[0]
            if removed is not None:
                effect = f"over the cap of {caps.cap(key[0])} per {key[0]} ({key[1]})"
                removed.append(Removed(entry.cand.item_id, entry.algo_rank, "diversity",
                                       caps.rule_of[key[0]].ref(CAPPED, effect)))
    final = [e for e in slots if e is not None]
    newest = caps.newest
    if newest or removed is not None:
        unused = [e for e in kept[i:] if not e.pinned]
        if newest:
            make_room_for_new(final, unused, newest, caps, context, removed=removed)
        if removed is not None:
            for entry in unused:
                removed.append(Removed(entry.cand.item_id, entry.algo_rank, "cut"))
    return final


def make_room_for_new(final: list[Entry], unused: list[Entry], rules: list[Rule], caps: Caps, context: Context,
                      *, removed: list[Removed] | None) -> None:
    """At least `min_new_items` items newer than `new_item_days` (the strictest rule), where the
    unused candidates allow: each replaces the lowest non-pinned, not-new item, within the caps."""
    rule = max(rules, key=lambda r: (r.min_new_items, -r.new_item_days))
    since = context.now - timedelta(days=min(rule.new_item_days, MAX_NEW_ITEM_DAYS))  # a rule stored before the cap

    def is_new(entry: Entry) -> bool:
        created = entry.info.created_at if entry.info is not None else None
        return created is not None and created >= since

    missing = rule.min_new_items - sum(1 for e in final if is_new(e))
    for newcomer in [e for e in unused if is_new(e)]:
        if missing <= 0:
            break
        for pos in range(len(final) - 1, -1, -1):
            out = final[pos]
            if out.pinned or is_new(out):
                continue
            caps.count(out.info, -1)
            if caps.over(newcomer.info) is not None:
                caps.count(out.info)
                continue
            caps.count(newcomer.info)
            final[pos] = newcomer
            unused.remove(newcomer)
            newcomer.fire(rule.ref(ADDED_AS_NEW, f"room for new items (added within {rule.new_item_days} days)"))
            if removed is not None:
                removed.append(Removed(out.cand.item_id, out.algo_rank, "diversity",
                                       rule.ref(REPLACED_BY_NEW, "made room for a new item")))
            missing -= 1
            break
