"""The curation rule engine: a pure function (no ORM) from ranked candidates to the final list.

Order (docs/curation.md): filters (availability, "not interested"/excluded, seen, list
category, blocks) -> boosts -> diversity -> pins -> refill to `limit` -> annotations.

- A block beats everything, pins included.
- A pin is removed only by a block, unavailability or an exclusion: a pinned item the shopper
  has seen is still shown. Two pins on one position: higher priority wins, then the newer
  rule; the loser takes the next free position.
- Boost formula: among the N candidates left after filtering, the candidate at algorithm
  rank r (1-based) gets the base key b = (N - r + 1) / N, in (0, 1]. A boost of strength s in
  [-1, 1] sorts it by b + s. Strictly increasing in s; s = 1 gives a key > 1 >= every
  unboosted key (ahead of all unboosted candidates), s = -1 a key <= 0 < every unboosted key
  (behind all of them); s = 0.5 moves an item up by about half the list. Several boosts on one
  item add up, clipped to [-1, 1].
- Diversity: no list in a diversity rule's scope shows more than `max_per_category` items of one
  category, or more than `max_per_attribute[name]` items with one value of that attribute. It runs on
  the boosted order while the free positions are filled around the pins: pins count toward a cap but
  are never removed by it, and the next candidates take the freed places (the same list as capping
  before pins with the pins counted first). `min_new_items` brings in, where candidates allow, that
  many items added to the catalog within `new_item_days`, in place of the lowest non-pinned ones.
- Holdouts: a pin, boost or annotation with `holdout_share` s serves a share s of shoppers (a hash of
  rule id and user id: stable per shopper, independent across rules; anonymous requests draw with
  `Context.holdout_key`, new per request) as if the rule did not exist. The result names, per item,
  the rules that touched it (exposed) and the held-out rules whose positions it now fills (what was
  shown there instead), so each rule can be measured against its own holdout. Blocks and diversity
  rules never have a holdout.

Serving builds `Candidate`s (more than `limit`, best first) and a `Context`, takes the rules
from `curation.runtime.current_rules()` (a pre-indexed `RuleSet`) and calls `apply()`. Every
list type goes through here. `curate()` returns the same list plus what was removed and why,
for the admin preview.
"""
from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from operator import attrgetter

PIN, BLOCK, BOOST, ANNOTATION, DIVERSITY = "pin", "block", "boost", "annotation", "diversity"
RULE_KINDS = (PIN, BLOCK, BOOST, ANNOTATION, DIVERSITY)
HOLDOUT_KINDS = (PIN, BOOST, ANNOTATION)  # blocks and diversity are safety and policy: never held out
MAX_HOLDOUT_SHARE = 0.5
# A diversity rule's `new_item_days` at most (a century: any item is new); beyond it the date is out of range.
MAX_NEW_ITEM_DAYS = 36_500
SEGMENT_ALL, SEGMENT_NEW, SEGMENT_RETURNING, SEGMENT_USERS = "", "new", "returning", "users"
CURATED_FALLBACK_TEXT = "Picked by our team"


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
    context_item_ids: frozenset[str] = frozenset()  # basket lists: every item in the basket
    holdout_key: str = ""  # draws rule holdouts: the user id, or a per-request token for anonymous lists


@dataclass
class ItemInfo:
    """What the engine needs to know about an item to match rules."""

    item_id: str
    category: str = ""
    attributes: dict = field(default_factory=dict)
    available: bool = True
    created_at: datetime | None = None  # when it joined the catalog (diversity's room for new items)


@dataclass
class RankedItem:
    item_id: str
    rank: int
    score: float
    source: str
    reasons: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)
    trace: dict = field(default_factory=dict)
    rule_ids: tuple[int, ...] = ()  # rules with a holdout that touched this item (their exposed arm)
    holdout_rule_ids: tuple[int, ...] = ()  # held-out rules that would have put an item at this position


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One merchandiser rule, as the engine sees it (built from the DB by curation.selectors).

    Target (pins and annotations: `item_id`; blocks and boosts: exactly one of `item_id`,
    `item_category`, `item_attribute`) plus the scope: a missing scope field means everywhere.
    """

    id: int
    kind: str  # pin | block | boost | annotation
    name: str = ""
    item_id: str = ""
    item_category: str = ""
    item_attribute: tuple[tuple[str, str], ...] = ()  # all pairs must match the item's attributes
    position: int = 0  # pins, 1-based
    strength: float = 0.0  # boosts, [-1, 1]
    label: str = ""  # annotations: shopper-facing
    note: str = ""  # annotations: internal
    placement: str = ""
    category: str = ""  # only lists filtered to this category
    context_item_id: str = ""  # only similar/basket lists of this item
    segment: str = SEGMENT_ALL
    segment_user_ids: frozenset[str] = frozenset()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    enabled: bool = True
    priority: int = 0
    created_at: datetime | None = None
    holdout_share: float = 0.0  # pins, boosts, annotations: share of shoppers served without the rule
    max_per_category: int = 0  # diversity: at most this many items of one category (0: no cap)
    max_per_attribute: tuple[tuple[str, int], ...] = ()  # diversity: (attribute name, cap) pairs
    min_new_items: int = 0  # diversity: at least this many items newer than new_item_days, if any
    new_item_days: int = 0

    @cached_property
    def title(self) -> str:
        return self.name or describe(self)

    @cached_property
    def precedence(self) -> tuple:
        """Sort key: higher priority first, then the newer rule, then the higher id."""
        created = self.created_at.timestamp() if self.created_at else 0.0
        return (-self.priority, -created, -self.id)

    def is_live(self, now: datetime, *, ignore_enabled: bool = False) -> bool:
        if not (self.enabled or ignore_enabled):
            return False
        if self.starts_at is not None and now < self.starts_at:
            return False
        return self.ends_at is None or now < self.ends_at

    def in_scope(self, ctx: Context) -> bool:
        """Placement is matched by the RuleSet index; this checks the rest of the scope."""
        if self.category and self.category != ctx.category:
            return False
        if self.context_item_id and not (
            self.context_item_id == ctx.context_item_id or self.context_item_id in ctx.context_item_ids
        ):
            return False
        if self.segment == SEGMENT_ALL:
            return True
        if self.segment == SEGMENT_NEW:
            return ctx.is_new_shopper
        if self.segment == SEGMENT_RETURNING:
            return bool(ctx.user_id) and not ctx.is_new_shopper
        return ctx.user_id in self.segment_user_ids

    def ref(self, effect: str) -> dict:
        return {"id": self.id, "type": self.kind, "name": self.title, "effect": effect}

    @cached_property
    def pinned_ref(self) -> dict:
        """A pin's trace entry when it holds its own position: built once, shared by every list (never mutated)."""
        return self.ref(f"pinned at #{self.position}")

    @cached_property
    def boost_ref(self) -> dict:
        return self.ref(f"{'boosted' if self.strength >= 0 else 'buried'} {self.strength:+.2f}")

    @cached_property
    def label_ref(self) -> dict:
        return self.ref(f"labelled '{self.label}'")

    @cached_property
    def pinned_candidate(self) -> Candidate:
        """A pinned item that was no candidate, as one (shared, never mutated)."""
        return Candidate(self.item_id, 0.0, source="pinned")


def describe(rule: Rule) -> str:
    if rule.item_id:
        target = rule.item_id
    elif rule.item_category:
        target = f"category {rule.item_category}"
    else:
        target = ", ".join(f"{k}={v}" for k, v in rule.item_attribute) or "nothing"
    if rule.kind == PIN:
        return f"Pin {target} at #{rule.position}"
    if rule.kind == BOOST:
        return f"{'Boost' if rule.strength >= 0 else 'Bury'} {target} ({rule.strength:+.2f})"
    if rule.kind == ANNOTATION:
        return f"Label {target} '{rule.label}'"
    if rule.kind == DIVERSITY:
        caps = ([f"{rule.max_per_category} per category"] if rule.max_per_category else []) + [
            f"{n} per {name}" for name, n in rule.max_per_attribute]
        if rule.min_new_items:
            caps.append(f"{rule.min_new_items} new (<{rule.new_item_days} d)")
        return f"Diversity: at most {', '.join(caps)}" if caps else "Diversity"
    return f"Block {target}"


_MASK64 = 2**64 - 1


def holdout_seed(key: str) -> int:
    """The shopper's (or request's) 64-bit draw seed: hashed once per request, stable across processes."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def holdout_draw(rule_id: int, seed: int) -> float:
    """Uniform in [0, 1) for (rule, shopper): splitmix64 of the seed and the rule id, so draws are
    stable per shopper and rule and independent across rules."""
    z = (seed ^ (rule_id * 0x9E3779B97F4A7C15)) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) / 2**64


class _Holdouts:
    """One request's rule holdouts, drawn when first asked about: a draw for each rule that can touch
    the list (the view's held-out pins, the rules on its candidates and pinned items), not for every
    rule with a holdout. `held`: the rules drawn so far whose holdout the request is in."""

    __slots__ = ("seed", "shares", "drawn", "held")

    def __init__(self, key: str, shares: dict[int, float]) -> None:
        self.seed = holdout_seed(key)
        self.shares = shares  # rule id -> holdout share, the view's rules with a holdout
        self.drawn: dict[int, bool] = {}
        self.held: set[int] = set()

    def __contains__(self, rule_id: int) -> bool:
        hit = self.drawn.get(rule_id)
        if hit is None:
            share = self.shares.get(rule_id)
            hit = self.drawn[rule_id] = share is not None and holdout_draw(rule_id, self.seed) < share
            if hit:
                self.held.add(rule_id)
        return hit


def in_holdout(rule_id: int, key: str, share: float) -> bool:
    """Is the shopper (or request) `key` in this rule's holdout? (No key: never.)"""
    if share <= 0 or not key:
        return False
    return holdout_draw(rule_id, holdout_seed(key)) < share


class _Bucket:
    """The rules that can apply on one placement (its own and the all-lists ones), indexed by target.

    `active()` narrows it, once per distinct request scope and time window, to the rules that are
    live and in scope, so a request does no per-rule window or scope checks.
    """

    __slots__ = ("rules", "pins", "by_item", "by_category", "by_attribute", "has_boosts", "diversity",
                 "holdout_rules", "measured_ids", "_bounds", "_scope_categories", "_scope_items", "_scope_users",
                 "_active", "_pinned", "item_rules_memo", "pin_order", "kind_of", "holdout_shares",
                 "holdout_pins", "pin_by_id", "diversity_caps", "_pin_orders", "_pin_keys")

    MAX_CACHED_SCOPES = 256
    MAX_MEMO_ITEMS = 20_000
    MAX_PIN_ORDERS = 2048  # held pin sets differ per shopper: a few hundred are common with ~20 held-out pins

    def __init__(self, rules: Iterable[Rule], *, index_scope: bool = True) -> None:
        self.rules: list[Rule] = list(rules)
        self.pins: list[Rule] = []
        self.by_item: dict[str, list[Rule]] = {}
        self.by_category: dict[str, list[Rule]] = {}
        self.by_attribute: dict[tuple[str, str], list[Rule]] = {}
        self.has_boosts = False
        self.diversity: list[Rule] = []
        self.holdout_rules: list[Rule] = []
        for rule in self.rules:
            self.add(rule)
        self.pins.sort(key=_precedence)
        self._pin_keys = [(p.id, p.position) for p in self.pins]  # precedence order, as `pins`
        self.pin_order = _pin_order(self.pins, self._pin_keys)
        self._pin_orders: dict[frozenset[int], list[Rule]] = {}
        self.kind_of = {r.id: r.kind for r in self.rules}
        self.diversity_caps = _Caps(self.diversity) if self.diversity else None
        self.measured_ids = frozenset(r.id for r in self.holdout_rules)
        self.holdout_shares = {r.id: r.holdout_share for r in self.holdout_rules}
        self.holdout_pins = [(r.id, r.position) for r in self.holdout_rules if r.kind == PIN]
        self.pin_by_id = {p.id: p for p in self.pins}
        self._active: dict[tuple, _Bucket] = {}
        self._pinned: dict[int, frozenset[str]] = {}
        # item id -> (category, attributes, its rules): the lookup runs for every candidate of every
        # list, and an active view's answer for an item only changes with the item's card.
        self.item_rules_memo: dict[str, tuple[str, dict, list[Rule], Rule | None, float, bool]] = {}
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

    def add(self, rule: Rule) -> None:
        self.has_boosts = self.has_boosts or rule.kind == BOOST
        if rule.holdout_share > 0 and rule.kind in HOLDOUT_KINDS:
            self.holdout_rules.append(rule)
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
            order = _pin_order(self.pins, self._pin_keys, off)
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

    def active(self, ctx: Context, ignore_enabled: bool) -> _Bucket:
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
        view = _Bucket(
            (r for r in self.rules if r.is_live(now, ignore_enabled=ignore_enabled) and r.in_scope(ctx)),
            index_scope=False,
        )
        if len(self._active) >= self.MAX_CACHED_SCOPES:
            self._active.clear()
        self._active[key] = view
        return view


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
        self._merged: dict[str, _Bucket | None] = {}

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules)

    def bucket(self, placement: str) -> _Bucket | None:
        """The index for a list on `placement` ("" = a list without placement); None when no rule can apply."""
        try:
            return self._merged[placement]
        except KeyError:
            pass
        rules = self._by_placement.get("", []) + (self._by_placement.get(placement, []) if placement else [])
        bucket = _Bucket(rules) if rules else None
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


def _as_ruleset(rules) -> RuleSet:
    return rules if isinstance(rules, RuleSet) else RuleSet(rules)


def _matches_attributes(rule: Rule, attributes: dict) -> bool:
    return all(str(attributes.get(k)) == v for k, v in rule.item_attribute)


def _item_rules(b: _Bucket, info: ItemInfo) -> list[Rule]:
    """The block/boost/annotation rules of an active view that target this item, best priority first.
    The list returned is shared: never mutate it."""
    hit = b.item_rules_memo.get(info.item_id)
    if hit is None or hit[1] is not info.attributes or hit[0] != info.category:
        hit = _remember_item_rules(b, info)
    return hit[2]


def _remember_item_rules(b: _Bucket, info: ItemInfo) -> tuple[str, dict, list[Rule], Rule | None, float, bool]:
    """(category, attributes, rules, its first block, its boost, whether one of its rules has a holdout) of
    an item, kept in the view's memo. A hit is checked against the card's category and the identity of its
    attributes: cards are cached per process, so the same dict comes back while the card is unchanged."""
    memo = b.item_rules_memo
    found = _lookup_item_rules(b, info)
    hit = (info.category, info.attributes, found, next((r for r in found if r.kind == BLOCK), None),
           _boost_of(found), _has_holdout(found))
    if len(memo) >= b.MAX_MEMO_ITEMS:
        memo.clear()
    memo[info.item_id] = hit
    return hit


def _lookup_item_rules(b: _Bucket, info: ItemInfo) -> list[Rule]:
    found = b.by_item.get(info.item_id)
    found = list(found) if found else []
    if info.category and b.by_category:
        more = b.by_category.get(info.category)
        if more:
            found.extend(more)
    attrs = info.attributes
    if attrs and b.by_attribute:
        by_attribute = b.by_attribute
        for key, value in attrs.items():
            for rule in by_attribute.get((key, str(value)), ()):
                # Indexed under its first pair, which just matched: check the others, if any.
                if len(rule.item_attribute) == 1 or _matches_attributes(rule, attrs):
                    found.append(rule)
    if len(found) > 1:
        found.sort(key=_precedence)
    return found or _NO_RULES


_NO_RULES: list[Rule] = []  # shared, never mutated


def _precedence(rule: Rule):
    return rule.precedence


@dataclass
class Removed:
    """A candidate or pin that did not make the list, and why (for the preview)."""

    item_id: str
    algorithm_rank: int | None
    reason: str  # unavailable | excluded | seen | category | blocked | pin_unavailable | pin_lost | cut
    rule: dict | None = None


@dataclass
class CurationResult:
    items: list[RankedItem]
    removed: list[Removed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    held_out: tuple[int, ...] = ()  # the rules this request was served without (their holdout)


class _Entry:
    """One candidate (or pinned item) on its way through the engine; a plain slots class, made ~100x a call."""

    __slots__ = ("cand", "info", "algo_rank", "rules", "boost", "has_holdout", "fired", "strength", "key", "kept",
                 "pinned")

    def __init__(self, cand: Candidate, info: ItemInfo, algo_rank: int | None, rules: list[Rule],
                 kept: bool = False, boost: float | None = None, has_holdout: bool | None = None) -> None:
        self.cand = cand
        self.info = info
        self.algo_rank = algo_rank
        self.rules = rules
        self.boost = _boost_of(rules) if boost is None else boost  # its boosts' summed strength, clipped
        self.has_holdout = _has_holdout(rules) if has_holdout is None else has_holdout  # a rule of it has one
        self.fired: list[dict] | None = None  # trace refs of the rules that placed it (made on the first)
        self.strength = 0.0  # the boost applied (kept candidates only)
        self.key = 0.0
        self.kept = kept
        self.pinned = False

    def set_rules(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.boost = _boost_of(rules)
        self.has_holdout = _has_holdout(rules)

    def fire(self, ref: dict) -> None:
        if self.fired is None:
            self.fired = [ref]
        else:
            self.fired.append(ref)

    def reset(self) -> None:
        """As filtered, before any arrangement."""
        self.fired = None
        self.strength = 0.0
        self.key = 0.0
        self.pinned = False


def apply(candidates: Iterable[Candidate], context: Context, rules: Iterable = (), **options) -> list[RankedItem]:
    """Filter, curate and cut `candidates` to at most `limit` items, best first (options as `curate()`)."""
    return curate(candidates, context, rules, report=False, **options).items


def curate(
    candidates: Iterable[Candidate],
    context: Context,
    rules: Iterable = (),
    *,
    limit: int,
    item_info: Callable[[str], ItemInfo | None],
    ignore_enabled: bool = False,
    report: bool = True,
) -> CurationResult:
    """`apply()` that also reports removed items and pin warnings. `ignore_enabled` is for preview;
    `report=False` (serving, through `apply()`) skips that bookkeeping.

    The steps, in order (each below, with its own why): the live rules in scope less the shopper's
    holdouts, filters, boosts, pins, refill under the diversity caps, then explain and annotate.
    """
    removed: list[Removed] | None = [] if report else None
    warnings: list[str] | None = [] if report else None
    if limit <= 0:
        return CurationResult([], removed or [], warnings or [])
    candidates = candidates if isinstance(candidates, list | tuple) else list(candidates)
    bucket = _live_rules(_as_ruleset(rules), context, ignore_enabled)
    # A list the pins can fill is served from the first `limit` survivors and the pinned candidates
    # (see `_NeedAllCandidates`); should a position stay free after all, it is curated again in full.
    if removed is None and bucket is not None and bucket.pins and len(bucket.pins_within(limit)) >= limit:
        try:
            return _curated(candidates, context, bucket, item_info, limit=limit, removed=None, warnings=None,
                            lazy=True)
        except _NeedAllCandidates:
            pass
    return _curated(candidates, context, bucket, item_info, limit=limit, removed=removed, warnings=warnings)


class _NeedAllCandidates(Exception):
    """A lazily filtered list left a position free: only a scan of every candidate can fill it.

    Why the lazy scan is exact while the pins fill every position (of the served arrangement, of the
    dry run and of the would-be arrangement of a held-out shopper): the unscanned candidates are neither
    pinned (the pinned ones within reach are scanned) nor placed, so their rules show nowhere; boosts
    and the refill order only what fills free positions; and the holdout positions come from placed
    entries alone. Only `held_out` may name fewer rules (those drawn on unscanned candidates).
    Checked against the full scan by tests/curation's random cases."""


def _curated(candidates: list[Candidate] | tuple[Candidate, ...], context: Context, bucket: _Bucket | None,
             item_info: Callable[[str], ItemInfo | None], *, limit: int, removed: list[Removed] | None,
             warnings: list[str] | None, lazy: bool = False) -> CurationResult:
    """`curate()` once the live rules are known; `lazy`: filter only the first `limit` survivors and the
    pinned candidates, and raise `_NeedAllCandidates` when an arrangement leaves a position free."""
    held: _Holdouts | None = None
    if bucket is not None and bucket.holdout_rules and context.holdout_key:
        held = _Holdouts(context.holdout_key, bucket.holdout_shares)
    # Only rules with a holdout are measured: the others' impressions need no per-rule rows.
    measured = bucket.measured_ids if bucket is not None else frozenset()
    # One filter pass serves every arrangement below: filters never depend on held rules (blocks
    # have no holdout), so the held run and the full run differ only in the rules entries carry.
    if lazy:
        kept, by_id = _filtered(candidates, context, bucket, item_info, limit=limit, removed=None,
                                pinned=bucket.pins_within(limit))
    else:
        scan_all = removed is not None or (
            bucket is not None and (bucket.has_boosts or bool(bucket.pins) or bool(bucket.diversity)))
        kept, by_id = _filtered(candidates, context, bucket, item_info, limit=None if scan_all else limit,
                                removed=removed)
    if held is None:
        final, _ = _arranged(kept, by_id, context, bucket, item_info, limit=limit, removed=removed,
                             warnings=warnings, lazy=lazy)
        return CurationResult([_explained(entry, rank, measured) for rank, entry in enumerate(final, start=1)],
                              removed or [], warnings or [])
    # Held out: serve without those rules, and note which positions they would have filled, so the
    # impressions there measure "what was shown instead". The held run takes the held rules off the
    # entries (kept aside in `full`); a full arrangement, when needed, resets the entries first.
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
    resolved: dict[str, tuple | None] = {}
    # A pin beyond the list's length never lands (pins only move down) nor moves another: not drawn.
    held_pins = frozenset(pin_id for pin_id, position in bucket.holdout_pins if position <= limit and pin_id in held)
    order = list(kept)  # boosted in place by the held run
    final, boosted = _arranged(order, by_id, context, bucket, item_info, limit=limit, removed=removed,
                               warnings=warnings, held=held, held_pins=held_pins, resolved=resolved, lazy=lazy)
    items = [_explained(entry, rank, measured) for rank, entry in enumerate(final, start=1)]
    positions: dict[int, list[int]] = {}
    for hit in resolved.values():  # pinned items that were not candidates carry rules too
        if hit is not None:
            matched.update(r.id for r in hit[3] if r.id in held)
    kind_of = bucket.kind_of
    held_moves = any(kind_of[i] == BOOST for i in matched) or (bool(held_pins) and bool(matched))
    landed: dict[int, int] = {}
    if held_pins and not held_moves:
        # Only pins were held: where they would land depends on the pins alone (no second arrangement).
        # A dry run reads only which items survived the filters. Unless the refill would leave a position
        # empty (a short list, or diversity caps with the held pins counted): the gap closes and moves
        # the pins after it, and only a full run knows their ranks. The candidates' boosted order is the
        # held run's (no held rule is on a candidate).
        slots = _pinned_slots(bucket, context, by_id, item_info, limit=limit, removed=None, warnings=None,
                              dry=landed, resolved=resolved)
        if lazy and None in slots:
            raise _NeedAllCandidates
        if bucket.has_boosts and not boosted and None in slots:
            _boost(order)  # the held run's pins filled its list: the refill here goes by the boosted order
        held_moves = not _refill_fills(slots, order, bucket.diversity_caps)
    if held_pins and not held_moves:
        positions = {pin_id: [rank] for pin_id, rank in landed.items() if pin_id in held_pins}
        # A held label on a landed pin's item would have been where that pin lands: on a held pin's item, or
        # on the item of a pin that lands only once the held pins are back (first looked at by the dry run;
        # the items the held run looked at carried no held rule, or the full run above would be needed).
        for pin_id, rank in landed.items():
            hit = resolved.get(bucket.pin_by_id[pin_id].item_id)
            for rule in _shown(hit[3]) if hit is not None else ():
                if rule.kind == ANNOTATION and rule.id in held:
                    positions.setdefault(rule.id, []).append(rank)
    elif held_moves:
        # A held boost (or pins beside held labels) would have moved items: arrange the same entries,
        # reset, with every rule, bookkeeping off. Only the served entries were arranged and explained
        # (the boost step sets every kept entry's key and strength anew).
        for entry in final:
            entry.reset()
        for item_id, rules in full.items():
            by_id[item_id].set_rules(rules)
        would, _ = _arranged(kept, by_id, context, bucket, item_info, limit=limit, removed=None, warnings=None,
                             resolved=resolved, lazy=lazy)
        for rank, entry in enumerate(would, start=1):
            if entry.fired is None and not entry.rules:
                continue  # no rule touched it
            for rule_id in _touched_by(entry):
                if rule_id in held:
                    positions.setdefault(rule_id, []).append(rank)
    elif matched:  # only labels were held: they move nothing, so their positions are where their items are
        for rank, entry in enumerate(final, start=1):
            for rule in _shown(_item_rules(bucket, entry.info)) if entry.info is not None else ():
                if rule.id in matched:
                    positions.setdefault(rule.id, []).append(rank)
    at_rank: dict[int, set[int]] = {}
    for rule_id, ranks in positions.items():
        for rank in ranks:
            at_rank.setdefault(rank, set()).add(rule_id)
    for item in items:
        ids = at_rank.get(item.rank)
        if ids:
            item.holdout_rule_ids = tuple(sorted(ids))
    return CurationResult(items, removed or [], warnings or [], held_out=tuple(sorted(held.held)))


def _touched_by(entry: _Entry) -> set[int]:
    """The ids of the rules that touch an arranged entry, as `_explained` would name them in its trace
    (its boosts if it was a kept candidate, its shown labels, the pins and caps that placed it)."""
    ids = {ref["id"] for ref in entry.fired or ()}
    for rule in _shown(entry.rules):
        if rule.kind == ANNOTATION or (rule.kind == BOOST and entry.kept):
            ids.add(rule.id)
    return ids


def _shown(rules: list[Rule]):
    """The rules of an item that show on it: a label whose text an earlier label already gave is not
    shown (as `_explained` does), so it touches nothing."""
    labels = set()
    for rule in rules:
        if rule.kind == ANNOTATION:
            if rule.label in labels:
                continue
            labels.add(rule.label)
        yield rule


def _arranged(kept: list[_Entry], by_id: dict[str, _Entry], context: Context, bucket: _Bucket | None, item_info, *,
              limit: int, removed: list[Removed] | None, warnings: list[str] | None,
              held: _Holdouts | None = None, held_pins: frozenset[int] = frozenset(),
              resolved: dict | None = None, lazy: bool = False) -> tuple[list[_Entry], bool]:
    """Boosts, pins and the refill under the diversity caps: the final entries in order, and whether
    `kept` was boosted in place (`held`: the shopper's holdouts, whose rules pinned items skip;
    `held_pins`: the pins held out; `resolved`: pinned items already looked at in this request;
    `lazy`: `kept` was filtered lazily, so a free position raises `_NeedAllCandidates`)."""
    slots = _pinned_slots(bucket, context, by_id, item_info, limit=limit, removed=removed, warnings=warnings,
                          held=held, held_pins=held_pins, resolved=resolved)
    if lazy and None in slots:
        raise _NeedAllCandidates
    # Boosts order only the candidates that fill free positions (pins take theirs from the other pins
    # alone); a list the pins fill needs no boosted order, but for the preview's order of cut items.
    boosted = bucket is not None and bucket.has_boosts and (removed is not None or None in slots)
    if boosted:
        _boost(kept)
    if bucket is not None and bucket.diversity:
        return _diverse_refill(slots, kept, bucket.diversity_caps, context, removed=removed), boosted
    return _refilled(slots, kept, removed=removed), boosted


def _live_rules(ruleset: RuleSet, context: Context, ignore_enabled: bool) -> _Bucket | None:
    """The placement's rules that are live now and in this list's scope (None: no rule applies)."""
    bucket = ruleset.bucket(context.placement)
    if bucket is None:
        return None
    bucket = bucket.active(context, ignore_enabled)
    return bucket if bucket.rules else None


def _filtered(candidates: Iterable[Candidate], context: Context, bucket: _Bucket | None,
              item_info: Callable[[str], ItemInfo | None], *, limit: int | None,
              removed: list[Removed] | None,
              pinned: frozenset[str] = frozenset()) -> tuple[list[_Entry], dict[str, _Entry]]:
    """1. Filters: unavailable, excluded, seen, outside the list's category, blocked.

    Returns the survivors in algorithm order and every entry by item id; seen items are kept aside
    there (not in the survivors), since a pin may still bring them back. After `limit` survivors
    (None: no limit) only the `pinned` items among the rest are filtered, if any."""
    kept: list[_Entry] = []
    by_id: dict[str, _Entry] = {}
    memo = bucket.item_rules_memo if bucket is not None else None
    excluded, category = context.excluded, context.category
    seen = () if context.include_seen else context.seen
    rest_only: frozenset[str] | None = None  # set once `limit` survivors are in
    # The hot loop of every list: _filter_reason's checks and _item_rules' memo hit, inlined.
    for algo_rank, cand in enumerate(candidates, start=1):
        item_id = cand.item_id
        if item_id in by_id or (rest_only is not None and item_id not in rest_only):
            continue
        info = item_info(item_id)
        if info is None or not info.available or item_id in excluded or (category and info.category != category):
            if removed is not None:
                removed.append(Removed(item_id, algo_rank, _filter_reason(info, item_id, context)))
            continue
        if item_id in seen:
            by_id[item_id] = _Entry(cand, info, algo_rank, _NO_RULES, False, 0.0, False)
            if removed is not None:
                removed.append(Removed(item_id, algo_rank, "seen"))
            continue
        if memo is None:
            entry_rules, boost, has_holdout = _NO_RULES, 0.0, False
        else:
            hit = memo.get(item_id)
            if hit is None or hit[1] is not info.attributes or hit[0] != info.category:
                hit = _remember_item_rules(bucket, info)
            entry_rules, block, boost, has_holdout = hit[2], hit[3], hit[4], hit[5]
            if block is not None:
                if removed is not None:
                    removed.append(Removed(item_id, algo_rank, "blocked", block.ref("blocked")))
                continue
        entry = _Entry(cand, info, algo_rank, entry_rules, True, boost, has_holdout)
        by_id[item_id] = entry
        kept.append(entry)
        if rest_only is None and limit is not None and len(kept) >= limit:
            if not pinned:
                break
            rest_only = pinned
    return kept, by_id


def _boost_of(rules: list[Rule]) -> float:
    """The summed strength of the boosts among `rules`, clamped to [-1, 1]."""
    total = 0.0
    for rule in rules:
        if rule.kind == BOOST:
            total += rule.strength
    return max(-1.0, min(1.0, total)) if total else 0.0


def _has_holdout(rules: list[Rule]) -> bool:
    """Has one of `rules` a holdout (so a shopper may be held out of it)?"""
    for rule in rules:
        if rule.holdout_share > 0 and rule.kind in HOLDOUT_KINDS:
            return True
    return False


def _boost(kept: list[_Entry]) -> None:
    """2. Boosts: re-rank the survivors by rank score (1 at the top, 1/n at the bottom) plus the
    summed strength of their boosts, clamped to [-1, 1]. Stable: ties keep algorithm order."""
    n = len(kept)
    boosted = False
    for rank, entry in enumerate(kept, start=1):
        strength = entry.strength = entry.boost
        if strength:
            boosted = True
        entry.key = (n - rank + 1) / n + strength
    if boosted:
        kept.sort(key=_KEY, reverse=True)  # stable: equal keys keep algorithm order


_KEY = attrgetter("key")


def _pinned_slots(bucket: _Bucket | None, context: Context, by_id: dict[str, _Entry],
                  item_info: Callable[[str], ItemInfo | None], *, limit: int,
                  removed: list[Removed] | None, warnings: list[str] | None,
                  held: _Holdouts | None = None, held_pins: frozenset[int] = frozenset(),
                  dry: dict[int, int] | None = None,
                  resolved: dict | None = None) -> list[_Entry | None]:
    """3. Pins: the list's positions with each pin in place (None: free).

    Winners first (the best pin of each position by precedence), then the losers take the next free
    position after theirs. Only blocks and unavailability remove a pinned item (`_pin_entry`).
    `dry`: only note where each pin lands ({pin id: position}), leaving the entries as they are; pins
    take their slots from the other pins alone (boosts never move a pin), so this is where the full
    engine would put them."""
    slots: list[_Entry | None] = [None] * limit
    if bucket is None or not bucket.pins:
        return slots
    order = bucket.pin_order_without(held_pins) if held_pins else bucket.pin_order
    report = removed is not None
    pinned_ids: set[str] = set()
    free = limit
    for pin in order:
        if not free and not report:
            break  # the list is all pins: the rest cannot place (only the preview wants to know)
        if pin.item_id in pinned_ids:
            if report:
                removed.append(Removed(pin.item_id, None, "pin_duplicate", pin.ref("ignored: item already pinned")))
            continue
        start = slot = pin.position - 1
        while slot < limit and slots[slot] is not None:
            slot += 1
        if slot >= limit:
            if report:
                if start < limit:
                    warnings.append(f"{pin.title}: no free position from #{pin.position} on")
                removed.append(Removed(pin.item_id, None, "pin_beyond_limit", pin.ref("beyond the list length")))
            continue
        entry = by_id.get(pin.item_id)
        if entry is None or not entry.kept:
            if dry is not None:  # only where it lands: its (candidate, info, rank, rules) stand in for an entry
                entry = _pin_hit(pin, entry, context, bucket, item_info, removed, warnings, resolved)
            else:
                entry = _pin_entry(pin, entry, context, bucket, item_info, removed, warnings, held, resolved)
            if entry is None:
                continue
        if dry is not None:
            dry[pin.id] = slot + 1
            slots[slot] = entry
            free -= 1
            pinned_ids.add(pin.item_id)
            continue
        if slot != start:
            winner = slots[start]
            if report:
                warnings.append(
                    f"{pin.title} conflicts with the pin of {winner.cand.item_id if winner else '?'} "
                    f"at #{pin.position}; moved to #{slot + 1}"
                )
            entry.fire(pin.ref(f"pinned at #{pin.position}, lost the conflict, moved to #{slot + 1}"))
        else:
            entry.fire(pin.pinned_ref)
        entry.pinned = True
        slots[slot] = entry
        free -= 1
        pinned_ids.add(pin.item_id)
    return slots


def _refill_fills(slots: list, order: list[_Entry], template: _Caps | None) -> bool:
    """Would refilling these pinned slots from `order` (under the diversity caps, pins counted first)
    leave no position empty? What `_refilled`/`_diverse_refill` would do, counting only."""
    free = slots.count(None)
    if not free:
        return True
    # A dry run's slots hold entries (pinned candidates) or the (candidate, info, ...) of other pinned items.
    placed = [(e.cand.item_id, e.info) if isinstance(e, _Entry) else (e[0].item_id, e[1]) for e in slots
              if e is not None]
    pinned = {item_id for item_id, _ in placed}
    caps = template.fresh() if template is not None else None
    if caps is not None:
        for _, info in placed:
            caps.count(info)
    for entry in order:
        if entry.cand.item_id in pinned:
            continue
        if caps is not None:
            if caps.over(entry.info) is not None:
                continue
            caps.count(entry.info)
        free -= 1
        if not free:
            return True
    return False


def _pin_order(pins: list[Rule], keys: list[tuple[int, int]], off: frozenset[int] = frozenset()) -> list[Rule]:
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


def _refilled(slots: list[_Entry | None], kept: list[_Entry], *, removed: list[Removed] | None) -> list[_Entry]:
    """4. Refill the free positions with the (boosted) survivors in order, then close gaps."""
    pinned_ids = {e.cand.item_id for e in slots if e is not None}
    rest = (e for e in kept if e.cand.item_id not in pinned_ids)
    for i in range(len(slots)):
        if slots[i] is None:
            slots[i] = next(rest, None)
    if removed is not None:
        for entry in rest:
            removed.append(Removed(entry.cand.item_id, entry.algo_rank, "cut"))
    return [e for e in slots if e is not None]


class _Caps:
    """The diversity caps in force (the tightest of each rule in scope) and the counts so far."""

    __slots__ = ("per_category", "per_attribute", "counts", "rule_of", "last_key", "newest")

    def __init__(self, rules: list[Rule] = ()) -> None:
        self.per_category = 0
        self.per_attribute: dict[str, int] = {}
        self.rule_of: dict[str, Rule] = {}  # "category" or the attribute name -> the rule that set its cap
        for rule in sorted(rules, key=_precedence):
            if rule.max_per_category and (not self.per_category or rule.max_per_category < self.per_category):
                self.per_category, self.rule_of["category"] = rule.max_per_category, rule
            for name, cap in rule.max_per_attribute:
                if cap and (name not in self.per_attribute or cap < self.per_attribute[name]):
                    self.per_attribute[name], self.rule_of[name] = cap, rule
        self.counts: dict[tuple[str, str], int] = {}
        self.last_key = "category"
        self.newest = [r for r in rules if r.min_new_items and r.new_item_days > 0]  # room for new items

    def fresh(self) -> _Caps:
        """The same caps with no item counted yet (the caps of a view are worked out once)."""
        out = _Caps.__new__(_Caps)  # not __init__: the caps are the template's, only the counts are new
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

    def count(self, info: ItemInfo | None, delta: int = 1) -> None:
        for key in self._keys(info):
            self.counts[key] = self.counts.get(key, 0) + delta


def _diverse_refill(slots: list[_Entry | None], kept: list[_Entry], template: _Caps, context: Context, *,
                    removed: list[Removed] | None) -> list[_Entry]:
    """4'. Refill under the diversity caps: pins count first and stay; a survivor that would exceed a
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
                    entry.fire(caps.rule_of[caps.last_key].ref("moved up: a capped item made room"))
                break
            capped = True
            caps.last_key = key[0]
            if removed is not None:
                rule = caps.rule_of[key[0]]
                cap = caps.per_category if key[0] == "category" else caps.per_attribute[key[0]]
                removed.append(Removed(entry.cand.item_id, entry.algo_rank, "diversity",
                                       rule.ref(f"over the cap of {cap} per {key[0]} ({key[1]})")))
    final = [e for e in slots if e is not None]
    newest = caps.newest
    if newest or removed is not None:
        unused = [e for e in kept[i:] if not e.pinned]
        if newest:
            _make_room_for_new(final, unused, newest, caps, context, removed=removed)
        if removed is not None:
            for entry in unused:
                removed.append(Removed(entry.cand.item_id, entry.algo_rank, "cut"))
    return final


def _make_room_for_new(final: list[_Entry], unused: list[_Entry], rules: list[Rule], caps: _Caps, context: Context,
                       *, removed: list[Removed] | None) -> None:
    """At least `min_new_items` items newer than `new_item_days` (the strictest rule), where the
    unused candidates allow: each replaces the lowest non-pinned, not-new item, within the caps."""
    rule = max(rules, key=lambda r: (r.min_new_items, -r.new_item_days))
    since = context.now - timedelta(days=min(rule.new_item_days, MAX_NEW_ITEM_DAYS))  # a rule stored before the cap

    def is_new(entry: _Entry) -> bool:
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
            newcomer.fire(rule.ref(f"room for new items (added within {rule.new_item_days} days)"))
            if removed is not None:
                removed.append(Removed(out.cand.item_id, out.algo_rank, "diversity",
                                       rule.ref("made room for a new item")))
            missing -= 1
            break


def _explained(entry: _Entry, rank: int, measured: frozenset[int] = frozenset()) -> RankedItem:
    """5. Annotations, source, reasons and the trace of one final item (`rule_ids`: the `measured`
    rules among those that touched it)."""
    labels: list[str] = []
    fired = entry.fired or []
    if entry.rules:
        # Boost refs come first in the trace (boosts run before pins); only kept candidates are boosted.
        # Label refs come last; a label whose text an earlier one gave is not shown.
        boosts, notes = [], []
        for rule in entry.rules:
            if rule.kind == BOOST:
                if entry.kept:
                    boosts.append(rule.boost_ref)
            elif rule.kind == ANNOTATION and rule.label not in labels:
                labels.append(rule.label)
                notes.append(rule.label_ref)
        if boosts or notes:
            fired = boosts + fired + notes
    entry.fired = fired
    if entry.pinned:
        source = "pinned"
    elif entry.strength > 0:
        source = "boosted"
    else:
        source = entry.cand.source
    reasons = list(entry.cand.reasons)
    if entry.pinned or entry.strength > 0 or labels:
        reasons.insert(0, {"type": "curated", "text": labels[0] if labels else CURATED_FALLBACK_TEXT})
    return RankedItem(
        item_id=entry.cand.item_id,
        rank=rank,
        score=entry.cand.score,
        source=source,
        reasons=reasons,
        annotations=[{"label": label} for label in labels],
        rule_ids=_measured_ids(fired, measured) if measured and fired else (),
        trace={
            "algorithm_rank": entry.algo_rank,
            "algorithm_score": entry.cand.score if entry.algo_rank is not None else None,
            "rules": fired,
            "final_rank": rank,
        },
    )


def _measured_ids(fired: list[dict], measured: frozenset[int]) -> tuple[int, ...]:
    """The ids of the measured rules among `fired`, in order, each once."""
    ids: list[int] = []
    for ref in fired:
        rule_id = ref["id"]
        if rule_id in measured and rule_id not in ids:
            ids.append(rule_id)
    return tuple(ids)


def _filter_reason(info: ItemInfo | None, item_id: str, ctx: Context) -> str:
    if info is None or not info.available:
        return "unavailable"
    if item_id in ctx.excluded:
        return "excluded"
    if ctx.category and info.category != ctx.category:
        return "category"
    if not ctx.include_seen and item_id in ctx.seen:
        return "seen"
    return ""


def _pin_entry(pin, seen_entry, ctx, bucket, item_info, removed, warnings, held: _Holdouts | None = None,
               resolved: dict | None = None) -> _Entry | None:
    """An entry for a pinned item that is not among the kept candidates (seen, or not a candidate).

    `resolved` keeps what was found per item (filters and rules do not change within a request), so
    a second arrangement of the same request does not look again; it is read only without a report,
    since the first look is the one that reports."""
    hit = _pin_hit(pin, seen_entry, ctx, bucket, item_info, removed, warnings, resolved)
    if hit is None:
        return None
    cand, info, algo_rank, rules = hit
    # A pinned entry is never boosted, and the held-out pass looks only at the kept candidates.
    if held is not None and rules:
        rules = [r for r in rules if r.id not in held]
    return _Entry(cand, info, algo_rank, rules, boost=0.0, has_holdout=False)


def _pin_hit(pin, seen_entry, ctx, bucket, item_info, removed, warnings, resolved: dict | None) -> tuple | None:
    """(candidate, info, algorithm rank, rules) of a pinned item, or None if it cannot be shown."""
    if resolved is not None and removed is None and pin.item_id in resolved:
        return resolved[pin.item_id]
    hit = _resolve_pin(pin, seen_entry, ctx, bucket, item_info, removed, warnings)
    if resolved is not None:
        resolved[pin.item_id] = hit
    return hit


def _resolve_pin(pin, seen_entry, ctx, bucket, item_info, removed, warnings) -> tuple | None:
    if seen_entry is not None:
        info, cand, algo_rank = seen_entry.info, seen_entry.cand, seen_entry.algo_rank
        reason = ""  # seen: a pin brings it back
    else:
        info = item_info(pin.item_id)
        cand, algo_rank = pin.pinned_candidate, None
        reason = _filter_reason(info, pin.item_id, ctx)
        if reason == "seen":
            reason = ""
    if reason:
        if removed is not None:
            label = "pin_unavailable" if reason == "unavailable" else f"pin_{reason}"
            if reason == "unavailable":
                warnings.append(f"{pin.title}: the pinned item is unavailable and is skipped")
            removed.append(Removed(pin.item_id, algo_rank, label, pin.ref(f"skipped: item {reason}")))
        return None
    entry_rules = _item_rules(bucket, info) if bucket is not None else _NO_RULES
    for rule in entry_rules:
        if rule.kind == BLOCK:  # blocks are never held out
            if removed is not None:
                removed.append(Removed(pin.item_id, algo_rank, "blocked", rule.ref("blocked (beats the pin)")))
            return None
    return cand, info, algo_rank, entry_rules
