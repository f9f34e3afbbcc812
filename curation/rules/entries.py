"""`Entry`: one candidate (or pinned item) on its way through the pipeline, and what its rules add up to."""
from __future__ import annotations

from .boosts import boost_of
from .holdouts import can_be_held_out
from .types import Candidate, ItemInfo, Rule

NO_RULES: list[Rule] = []  # an item no rule targets (shared, never mutated)


class Entry:
    """A plain slots class, made ~100x a call: the candidate, its item, its algorithm rank and its rules, then
    what the steps did to it (its boost, the trace entries of the rules that placed it, pinned or not)."""

    __slots__ = ("cand", "info", "algo_rank", "rules", "boost", "has_holdout", "fired", "strength", "key", "kept",
                 "pinned")

    def __init__(self, cand: Candidate, info: ItemInfo, algo_rank: int | None, rules: list[Rule],
                 kept: bool = False, boost: float | None = None, has_holdout: bool | None = None) -> None:
        self.cand = cand
        self.info = info
        self.algo_rank = algo_rank
        self.rules = rules
        self.boost = boost_of(rules) if boost is None else boost  # its boosts' summed strength, clipped
        self.has_holdout = can_be_held_out(rules) if has_holdout is None else has_holdout  # a rule of it has one
        self.fired: list[dict] | None = None  # trace refs of the rules that placed it (made on the first)
        self.strength = 0.0  # the boost applied (kept candidates only)
        self.key = 0.0
        self.kept = kept  # it passed the filters (a seen item is looked at, not kept: only a pin brings it back)
        self.pinned = False

    def set_rules(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.boost = boost_of(rules)
        self.has_holdout = can_be_held_out(rules)

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

