"""The engine's vocabulary: rule kinds, what it is given (`Candidate`, `Context`, `ItemInfo`, `Rule`), what it
answers (`RankedItem`, `Removed`, `CurationResult`) and what a rule did to an item (`ACTIONS`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

PIN, BLOCK, BOOST, ANNOTATION, DIVERSITY = "pin", "block", "boost", "annotation", "diversity"
RULE_KINDS = (PIN, BLOCK, BOOST, ANNOTATION, DIVERSITY)
HOLDOUT_KINDS = (PIN, BOOST, ANNOTATION)  # blocks and diversity are safety and policy: never held out
MAX_HOLDOUT_SHARE = 0.5
# A diversity rule's `new_item_days` at most (a century: any item is new); beyond it the date is out of range.
MAX_NEW_ITEM_DAYS = 36_500
SEGMENT_ALL, SEGMENT_NEW, SEGMENT_RETURNING, SEGMENT_USERS = "", "new", "returning", "users"
CURATED_FALLBACK_TEXT = "Picked by our team"

# What a rule did: the `action` of each trace entry (RankedItem.trace["rules"]) and of each `Removed.rule`, for
# code to read (analytics, the preview); the entry's `effect` says the same, with details, for people.
PINNED, BOOSTED, BURIED, LABELLED = "pinned", "boosted", "buried", "labelled"  # on a listed item
MOVED_UP, ADDED_AS_NEW = "moved_up", "added_as_new"  # diversity, on a listed item
BLOCKED, CAPPED, REPLACED_BY_NEW = "blocked", "capped", "replaced_by_new"  # on a removed item
PIN_SKIPPED, PIN_DUPLICATE, PIN_BEYOND_LIMIT = "pin_skipped", "pin_duplicate", "pin_beyond_limit"  # unplaced pins
ACTIONS = (PINNED, BOOSTED, BURIED, LABELLED, MOVED_UP, ADDED_AS_NEW, BLOCKED, CAPPED, REPLACED_BY_NEW,
           PIN_SKIPPED, PIN_DUPLICATE, PIN_BEYOND_LIMIT)


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
    # algorithm_rank, algorithm_score, final_rank, and rules: the rules that touched it, in the order they
    # acted, each {"id", "type" (its kind), "name", "effect" (prose), "action" (one of ACTIONS)}
    trace: dict = field(default_factory=dict)
    rule_ids: tuple[int, ...] = ()  # rules with a holdout that touched this item (their exposed arm)
    holdout_rule_ids: tuple[int, ...] = ()  # held-out rules that would have put an item at this position


@dataclass
class Removed:
    """A candidate or pin that did not make the list, and why (for the preview)."""

    item_id: str
    algorithm_rank: int | None
    reason: str  # unavailable | excluded | seen | category | blocked | pin_unavailable | pin_lost | cut
    rule: dict | None = None  # the rule that removed it, as a trace entry


@dataclass
class CurationResult:
    items: list[RankedItem]
    removed: list[Removed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    held_out: tuple[int, ...] = ()  # the rules this request was served without (their holdout)


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

    def ref(self, action: str, effect: str) -> dict:
        """This rule's trace entry: what it did (`action`, one of ACTIONS) and the same in words (`effect`)."""
        return {"id": self.id, "type": self.kind, "name": self.title, "effect": effect, "action": action}

    @cached_property
    def pinned_ref(self) -> dict:
        """A pin's trace entry when it holds its own position: built once, shared by every list (never mutated)."""
        return self.ref(PINNED, f"pinned at #{self.position}")

    @cached_property
    def boost_ref(self) -> dict:
        if self.strength >= 0:
            return self.ref(BOOSTED, f"boosted {self.strength:+.2f}")
        return self.ref(BURIED, f"buried {self.strength:+.2f}")

    @cached_property
    def label_ref(self) -> dict:
        return self.ref(LABELLED, f"labelled '{self.label}'")

    @cached_property
    def pinned_candidate(self) -> Candidate:
        """A pinned item that was no candidate, as one (shared, never mutated)."""
        return Candidate(self.item_id, 0.0, source="pinned")


def describe(rule: Rule) -> str:
    """A rule's title when it has no name, e.g. "Pin sku-1 at #2"."""
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


def precedence(rule: Rule) -> tuple:
    """The sort key of rules by precedence (`Rule.precedence`), for sort()."""
    return rule.precedence
