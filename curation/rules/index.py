"""The rule index: `RuleSet` (rules by placement) and `Bucket` (one placement's rules by target, and the view of
those live and in scope for one request), so a request looks up only what can match.

Serving builds a `RuleSet` once per rules-stamp change (`curation.live_rules`); the per-placement buckets are built
on first use and kept, and each bucket keeps its active views per distinct request scope and time window.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from .diversity import Caps
from .types import BOOST, DIVERSITY, HOLDOUT_KINDS, PIN, SEGMENT_USERS, Context, Rule, precedence


class Bucket:
    """The rules that can apply on one placement (its own and the all-lists ones), indexed by target.

    `active()` narrows it, once per distinct request scope and time window, to the rules that are
    live and in scope (a view, itself a Bucket), so a request does no per-rule window or scope checks.
    """

    __slots__ = ("rules", "pins", "by_item", "by_category", "by_attribute", "has_boosts", "diversity",
                 "holdout_rules", "measured_ids", "_bounds", "_scope_categories", "_scope_items", "_scope_users",
                 "_active", "_pinned", "item_memo", "pin_order", "kind_of", "holdout_shares",
                 "holdout_pins", "diversity_caps", "_pin_orders", "_pin_keys")

    MAX_CACHED_SCOPES = 256
    MAX_MEMO_ITEMS = 20_000
    MAX_PIN_ORDERS = 2048  # held pin sets differ per shopper: a few hundred are common with ~20 held-out pins

    def __init__(self, rules: Iterable[Rule], *, index_scope: bool = True) -> None:
        self.rules: list[Rule] = list(rules)
        self.pins: list[Rule] = []
        self.by_item: dict[str, list[Rule]] = {}
        self.by_category: dict[str, list[Rule]] = {}
        self.by_attribute: dict[tuple[str, str], list[Rule]] = {}
        self.diversity: list[Rule] = []
        for rule in self.rules:
            self._add(rule)
        self.has_boosts = any(r.kind == BOOST for r in self.rules)
        self.holdout_rules = [r for r in self.rules if r.holdout_share > 0 and r.kind in HOLDOUT_KINDS]
        self.pins.sort(key=precedence)
        self._pin_keys = [(p.id, p.position) for p in self.pins]  # precedence order, as `pins`
        self.pin_order = pin_order(self.pins, self._pin_keys)
        self._pin_orders: dict[frozenset[int], list[Rule]] = {}
        self.kind_of = {r.id: r.kind for r in self.rules}
        self.diversity_caps = Caps(self.diversity) if self.diversity else None
        self.measured_ids = frozenset(r.id for r in self.holdout_rules)
        self.holdout_shares = {r.id: r.holdout_share for r in self.holdout_rules}
        self.holdout_pins = [(r.id, r.position) for r in self.holdout_rules if r.kind == PIN]
        self._active: dict[tuple, Bucket] = {}
        self._pinned: dict[int, frozenset[str]] = {}
        self.item_memo: dict = {}  # item id -> targets.ItemMatch
        if index_scope:
            bounds = set()
            for rule in self.rules:
                if rule.starts_at is not None:
                    bounds.add(rule.starts_at)
                if rule.ends_at is not None:
                    bounds.add(rule.ends_at)
            self._bounds = sorted(bounds)
            self._scope_categories = frozenset(r.category for r in self.rules if r.category)
            self._scope_items = frozenset(r.context_item_id for r in self.rules if r.context_item_id)
            self._scope_users: frozenset[str] = frozenset().union(
                *(r.segment_user_ids for r in self.rules if r.segment == SEGMENT_USERS))

    def _add(self, rule: Rule) -> None:
        if rule.kind == DIVERSITY:
            self.diversity.append(rule)
        elif rule.kind == PIN:
            self.pins.append(rule)
        elif rule.item_id:
            self.by_item.setdefault(rule.item_id, []).append(rule)
        elif rule.item_category:
            self.by_category.setdefault(rule.item_category, []).append(rule)
        elif rule.item_attribute:
            # Indexed under its first pair; the other pairs are checked on a hit.
            self.by_attribute.setdefault(rule.item_attribute[0], []).append(rule)

    def pin_order_without(self, off: frozenset[int]) -> list[Rule]:
        """The pin order with some of this view's pins held out (a shopper's few: cached per set). Worked
        out on (id, position) pairs made with the view, so a miss does not visit every pin's Rule."""
        if not off:
            return self.pin_order
        order = self._pin_orders.get(off)
        if order is None:
            order = pin_order(self.pins, self._pin_keys, off)
            if len(self._pin_orders) >= self.MAX_PIN_ORDERS:
                self._pin_orders.clear()
            self._pin_orders[off] = order
        return order

    def pins_within(self, reach: int) -> frozenset[str]:
        """Items of this view's pins at positions up to `reach` (a pin never moves up, so one below a
        list's length cannot land): the pinned items a list may need cards for. Cached per reach."""
        found = self._pinned.get(reach)
        if found is None:
            found = frozenset(p.item_id for p in self.pins if p.position <= reach)
            if len(self._pinned) >= self.MAX_CACHED_SCOPES:
                self._pinned.clear()
            self._pinned[reach] = found
        return found

    def active(self, ctx: Context, ignore_enabled: bool) -> Bucket:
        """The live, in-scope rules for this request (cached by everything that decides that)."""
        now = ctx.now
        # Liveness only changes at a start/end boundary: the count of boundaries <= now names the window.
        window = bisect_right(self._bounds, now) if self._bounds else 0
        items = self._scope_items
        if items:
            ctx_items = frozenset(c for c in (ctx.context_item_id, *ctx.context_item_ids) if c in items)
        else:
            ctx_items = frozenset()
        key = (
            ignore_enabled,
            window,
            ctx.category if ctx.category in self._scope_categories else "",
            ctx_items,
            ctx.is_new_shopper,
            bool(ctx.user_id),
            ctx.user_id if ctx.user_id in self._scope_users else "",
        )
        try:
            return self._active[key]
        except KeyError:
            pass
        view = Bucket(
            (r for r in self.rules if r.is_live(now, ignore_enabled=ignore_enabled) and r.in_scope(ctx)),
            index_scope=False,
        )
        if len(self._active) >= self.MAX_CACHED_SCOPES:
            self._active.clear()
        self._active[key] = view
        return view


def pin_order(pins: list[Rule], keys: list[tuple[int, int]], off: frozenset[int] = frozenset()) -> list[Rule]:
    """Pins (by precedence, with their (id, position) `keys`), less those in `off`, in the order they take
    positions: the best pin of each position first, then the losers, each to the next free position
    after its own."""
    taken: set[int] = set()
    winners, losers = [], []
    for pin, (pin_id, position) in zip(pins, keys, strict=True):
        if pin_id not in off:
            (losers if position in taken else winners).append(pin)
            taken.add(position)
    return winners + losers


class RuleSet:
    """Rules indexed by placement and target, so a request looks up only what can match.

    Built once per rules-stamp change; the per-placement index is built on first use and kept.
    """

    MAX_CACHED_PLACEMENTS = 1024

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._by_placement: dict[str, list[Rule]] = {}
        for rule in self.rules:
            self._by_placement.setdefault(rule.placement, []).append(rule)
        self._merged: dict[str, Bucket | None] = {}
        self._subsets: dict[frozenset[str], RuleSet] = {}

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules)

    def of_kinds(self, *kinds: str) -> RuleSet:
        """The rules of these kinds alone, as their own indexed set (kept: this set never changes)."""
        key = frozenset(kinds)
        subset = self._subsets.get(key)
        if subset is None:
            subset = self._subsets[key] = RuleSet(r for r in self.rules if r.kind in key)
        return subset

    def bucket(self, placement: str) -> Bucket | None:
        """The index for a list on `placement` ("" = a list without placement); None when no rule can apply."""
        try:
            return self._merged[placement]
        except KeyError:
            pass
        rules = self._by_placement.get("", []) + (self._by_placement.get(placement, []) if placement else [])
        bucket = Bucket(rules) if rules else None
        if len(self._merged) < self.MAX_CACHED_PLACEMENTS:
            self._merged[placement] = bucket
        return bucket

    def pinned_item_ids(self, context: Context, reach: int) -> frozenset[str]:
        """Items of the pins that can apply on this list (live, in its scope) at positions up to `reach`:
        what serving fetches cards for beside the candidates. Cached per rule view."""
        bucket = self.bucket(context.placement)
        if bucket is None or not bucket.pins:
            return frozenset()
        view = bucket.active(context, False)
        return view.pins_within(reach) if view.pins else frozenset()

    def live(self, context: Context, ignore_enabled: bool = False) -> Bucket | None:
        """The view of the placement's rules that are live now and in this list's scope (None: no rule applies)."""
        bucket = self.bucket(context.placement)
        if bucket is None:
            return None
        view = bucket.active(context, ignore_enabled)
        return view if view.rules else None


def as_ruleset(rules: Iterable) -> RuleSet:
    return rules if isinstance(rules, RuleSet) else RuleSet(rules)
