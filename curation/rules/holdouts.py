"""Holdout draws: which shoppers (or anonymous requests) are served as if a rule did not exist.

A pin, boost or annotation with `holdout_share` s is held out for a share s of shoppers: a hash of rule id and
user id, stable per shopper, independent across rules; anonymous requests draw with `Context.holdout_key`, new
per request. Blocks and diversity rules never have a holdout (`HOLDOUT_KINDS`). Where held rules would have
put items is worked out in `holdout_positions`.
"""
from __future__ import annotations

import hashlib

from .types import HOLDOUT_KINDS, Rule

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


def in_holdout(rule_id: int, key: str, share: float) -> bool:
    """Is the shopper (or request) `key` in this rule's holdout? (No key: never.)"""
    if share <= 0 or not key:
        return False
    return holdout_draw(rule_id, holdout_seed(key)) < share


def can_be_held_out(rules: list[Rule]) -> bool:
    """Has one of `rules` a holdout (so a shopper may be held out of it)?"""
    for rule in rules:
        if rule.holdout_share > 0 and rule.kind in HOLDOUT_KINDS:
            return True
    return False


class Holdouts:
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
