"""5. Explain and annotate: each final item's source, reasons, labels and trace (the rules that touched it).

A pinned or positively boosted item, or one with a label, gets a `curated` reason first (its label's text, or
CURATED_FALLBACK_TEXT); a bury is no curated source. The trace lists the rules in the order they acted: boosts,
then the pins and caps that placed it, then labels (a label whose text an earlier one gave is not shown).
"""
from __future__ import annotations

from .entries import Entry
from .types import ANNOTATION, BOOST, CURATED_FALLBACK_TEXT, RankedItem, Rule


def explained_list(final: list[Entry], measured: frozenset[int] = frozenset()) -> list[RankedItem]:
    return [explained(entry, rank, measured) for rank, entry in enumerate(final, start=1)]


def explained(entry: Entry, rank: int, measured: frozenset[int] = frozenset()) -> RankedItem:
    """One final item (`rule_ids`: the `measured` rules, those with a holdout, among those that touched it)."""
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


def touched_by(entry: Entry) -> set[int]:
    """The ids of the rules that touch an arranged entry, as `explained` would name them in its trace
    (its boosts if it was a kept candidate, its shown labels, the pins and caps that placed it)."""
    ids = {ref["id"] for ref in entry.fired or ()}
    for rule in shown(entry.rules):
        if rule.kind == ANNOTATION or (rule.kind == BOOST and entry.kept):
            ids.add(rule.id)
    return ids


def shown(rules: list[Rule]):
    """The rules of an item that show on it: a label whose text an earlier label already gave is not
    shown (as `explained` does), so it touches nothing."""
    labels = set()
    for rule in rules:
        if rule.kind == ANNOTATION:
            if rule.label in labels:
                continue
            labels.add(rule.label)
        yield rule
