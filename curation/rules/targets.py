"""Which rules of a rule view target an item (by item id, category or attributes), remembered per item.

The lookup runs for every candidate of every list, and a view's answer for an item only changes with the item's
card, so each view keeps it (`Bucket.item_memo`): a hit is checked against the card's category and the identity
of its attributes (cards are cached per process, so the same dict comes back while the card is unchanged).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .boosts import boost_of
from .entries import NO_RULES
from .holdouts import can_be_held_out
from .types import BLOCK, ItemInfo, Rule, precedence

if TYPE_CHECKING:
    from .index import Bucket


class ItemMatch:
    """The block, boost and annotation rules that target an item, best precedence first (shared: never mutate
    `rules`), with what the filters and boosts ask of them: its first block, its summed boost, whether a
    rule of it has a holdout."""

    __slots__ = ("category", "attributes", "rules", "block", "boost", "has_holdout")

    def __init__(self, info: ItemInfo, rules: list[Rule]) -> None:
        self.category = info.category
        self.attributes = info.attributes
        self.rules = rules
        self.block = next((r for r in rules if r.kind == BLOCK), None)
        self.boost = boost_of(rules)
        self.has_holdout = can_be_held_out(rules)


def item_match(view: Bucket, info: ItemInfo) -> ItemMatch:
    """The rules of an active view that target this item (remembered in the view)."""
    hit = view.item_memo.get(info.item_id)
    if hit is None or hit.attributes is not info.attributes or hit.category != info.category:
        hit = ItemMatch(info, _lookup(view, info))
        memo = view.item_memo
        if len(memo) >= view.MAX_MEMO_ITEMS:
            memo.clear()
        memo[info.item_id] = hit
    return hit


def item_rules(view: Bucket, info: ItemInfo) -> list[Rule]:
    """The block/boost/annotation rules of an active view that target this item, best precedence first.
    The list returned is shared: never mutate it."""
    return item_match(view, info).rules


def _lookup(view: Bucket, info: ItemInfo) -> list[Rule]:
    found = view.by_item.get(info.item_id)
    found = list(found) if found else []
    if info.category and view.by_category:
        more = view.by_category.get(info.category)
        if more:
            found.extend(more)
    attrs = info.attributes
    if attrs and view.by_attribute:
        by_attribute = view.by_attribute
        for key, value in attrs.items():
            for rule in by_attribute.get((key, str(value)), ()):
                # Indexed under its first pair, which just matched: check the others, if any.
                if len(rule.item_attribute) == 1 or _matches_attributes(rule, attrs):
                    found.append(rule)
    if len(found) > 1:
        found.sort(key=precedence)
    return found or NO_RULES


def _matches_attributes(rule: Rule, attributes: dict) -> bool:
    return all(str(attributes.get(k)) == v for k, v in rule.item_attribute)
