"""Steps 2 to 4 composed: boosts, pins, and the refill of the free positions (under the diversity caps)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .boosts import boost
from .diversity import diverse_refill, refill
from .entries import Entry
from .holdouts import Holdouts
from .pins import pinned_slots
from .types import Context, Removed

if TYPE_CHECKING:
    from .index import Bucket


def arranged(kept: list[Entry], by_id: dict[str, Entry], context: Context, view: Bucket | None, item_info, *,
             limit: int, removed: list[Removed] | None, warnings: list[str] | None,
             held: Holdouts | None = None, held_pins: frozenset[int] = frozenset(),
             resolved: dict | None = None) -> list[Entry]:
    """The final entries in order; `kept` (the survivors) is boosted in place. `held`: the shopper's holdouts,
    whose rules pinned items skip; `held_pins`: the pins held out; `resolved`: pinned items already looked at
    in this request (`pins.pin_entry`)."""
    slots = pinned_slots(view, context, by_id, item_info, limit=limit, removed=removed, warnings=warnings,
                         held=held, held_pins=held_pins, resolved=resolved)
    # Boosts order only the candidates that fill free positions (pins take theirs from the other pins
    # alone); a list the pins fill needs no boosted order, but for the preview's order of cut items.
    if view is not None and view.has_boosts and (removed is not None or None in slots):
        boost(kept)
    if view is not None and view.diversity:
        return diverse_refill(slots, kept, view.diversity_caps, context, removed=removed)
    return refill(slots, kept, removed=removed)
