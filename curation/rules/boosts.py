"""2. Boosts and buries: re-rank the filtered candidates by their rank plus their boosts' strength.

Among the N candidates left after filtering, the candidate at algorithm rank r (1-based) gets the base key
b = (N - r + 1) / N, in (0, 1]. A boost of strength s in [-1, 1] sorts it by b + s. Strictly increasing in s;
s = 1 gives a key > 1 >= every unboosted key (ahead of all unboosted candidates), s = -1 a key <= 0 < every
unboosted key (behind all of them); s = 0.5 moves an item up by about half the list. Several boosts on one item
add up, clipped to [-1, 1]. A negative strength buries.
"""
from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

from .types import BOOST, Rule

if TYPE_CHECKING:
    from .entries import Entry

_KEY = attrgetter("key")


def boost_of(rules: list[Rule]) -> float:
    """The summed strength of the boosts among `rules`, clamped to [-1, 1]."""
    total = 0.0
    for rule in rules:
        if rule.kind == BOOST:
            total += rule.strength
    return max(-1.0, min(1.0, total)) if total else 0.0


def boost(kept: list[Entry]) -> None:
    """Re-rank the survivors in place by rank score (1 at the top, 1/n at the bottom) plus the summed
    strength of their boosts, clamped to [-1, 1]. Stable: ties keep algorithm order."""
    n = len(kept)
    boosted = False
    for rank, entry in enumerate(kept, start=1):
        strength = entry.strength = entry.boost
        if strength:
            boosted = True
        entry.key = (n - rank + 1) / n + strength
    if boosted:
        kept.sort(key=_KEY, reverse=True)  # stable: equal keys keep algorithm order
