"""The event vocabulary: one row per event type, and everything derived from it (pure, no Django).

The model's choices, batch validation, the extraction wire codes, the training weights (and their
`CURIO_WEIGHT_<TYPE>` settings), serving's fold-in and reasons, impact attribution and the demo shop
all read this table. Adding an event type is one row here, its `CURIO_WEIGHT_<TYPE>` line in
config/settings/training.py (tests/ops/test_settings_package.py checks they agree) and the migration for the
model's choices.
"""
from __future__ import annotations

from typing import NamedTuple


class EventKind(NamedTuple):
    name: str  # the `type` on the wire and in the database
    code: int  # small int on the training extraction wire (SQL CASE emits it); never reuse one
    weight: float  # default training confidence of one event (CURIO_WEIGHT_<NAME> overrides it)
    verb: str  # "Because you <verb> ..." in a history reason
    strength: int  # which type speaks loudest for an item in a reason (higher wins)
    engaged: bool  # counts as engagement (a click) in impact attribution
    converted: bool  # counts as a conversion (a sale) in impact attribution


EVENT_KINDS: tuple[EventKind, ...] = (
    EventKind("view", 0, 1.0, "viewed", 0, engaged=False, converted=False),
    EventKind("click", 1, 2.0, "viewed", 1, engaged=True, converted=False),
    EventKind("add_to_cart", 2, 4.0, "added to your cart", 3, engaged=True, converted=False),
    EventKind("purchase", 3, 8.0, "bought", 4, engaged=True, converted=True),
    EventKind("rating", 4, 4.0, "rated", 2, engaged=False, converted=False),
)
# A rating's value is a score: it counts only at or above the rating threshold.
RATING = "rating"
# What a row without a type is (CSV imports may leave the column out).
DEFAULT_TYPE = "view"

EVENT_TYPES: tuple[str, ...] = tuple(k.name for k in EVENT_KINDS)
TYPE_CODES: dict[str, int] = {k.name: k.code for k in EVENT_KINDS}
DEFAULT_WEIGHTS: dict[str, float] = {k.name: k.weight for k in EVENT_KINDS}
EVENT_VERBS: dict[str, str] = {k.name: k.verb for k in EVENT_KINDS}
STRENGTH: dict[str, int] = {k.name: k.strength for k in EVENT_KINDS}
ENGAGED_TYPES: tuple[str, ...] = tuple(k.name for k in EVENT_KINDS if k.engaged)
CONVERTED_TYPES: tuple[str, ...] = tuple(k.name for k in EVENT_KINDS if k.converted)


def weight_setting_name(event_type: str) -> str:
    """The environment variable that overrides a type's default weight."""
    return f"CURIO_WEIGHT_{event_type.upper()}"
