"""The curation rule engine: a pure function (no ORM, no Django) from ranked candidates to the final list.

Order (docs/curation.md), one module per step, each with its own why:
1. `filters`: availability, "not interested"/excluded, seen, list category, blocks;
2. `boosts`: boost and bury;
3. `pins`: fixed positions;
4. `diversity`: refill the free positions to `limit`, under the diversity caps, with room for new items;
5. `explanations`: source, reasons, annotations and the trace of each item.

`arrangement` composes steps 2-4 and `pipeline` the whole (`apply()`, `curate()`). `index` holds the rules by
placement and target (`RuleSet`) and their live, in-scope views per request; `targets` finds the rules of an item;
`entries` is an item on its way through the steps; `holdouts` draws which shoppers are served without a rule, and
`holdout_positions` serves them and marks where the held rules would have been; `types` holds the vocabulary.

- A block beats everything, pins included.
- A pin is removed only by a block, unavailability or an exclusion: a pinned item the shopper has seen is still
  shown. Two pins on one position: higher priority wins, then the newer rule; the loser takes the next free
  position.
- A boost of strength s in [-1, 1] moves an item up (s > 0) or buries it (s < 0): see `boosts` for the formula.
- Diversity: at most `max_per_category` items of one category (or `max_per_attribute[name]` of one attribute
  value) per list in the rule's scope, pins counted first and never removed; `min_new_items` brings in new items.
- Holdouts: a pin, boost or annotation with `holdout_share` s serves a share s of shoppers as if the rule did not
  exist; the result names, per item, the rules that touched it (exposed) and the held-out rules whose positions
  it now fills, so each rule can be measured against its own holdout. Blocks and diversity rules never have one.
- Every trace entry says what its rule did twice: `effect` in words for people, `action` (one of `ACTIONS`) for
  code (analytics reads `action`, never the words).

Serving builds `Candidate`s (more than `limit`, best first) and a `Context`, takes the rules from
`curation.live_rules.current_rules()` (a pre-indexed `RuleSet`) and calls `apply()`. Every list type goes through
here. `curate()` returns the same list plus what was removed and why, for the admin preview.
"""
from .holdouts import holdout_draw, holdout_seed, in_holdout
from .index import RuleSet
from .pipeline import apply, curate
from .types import (
    ACTIONS,
    ADDED_AS_NEW,
    ANNOTATION,
    BLOCK,
    BLOCKED,
    BOOST,
    BOOSTED,
    BURIED,
    CAPPED,
    CURATED_FALLBACK_TEXT,
    DIVERSITY,
    HOLDOUT_KINDS,
    LABELLED,
    MAX_HOLDOUT_SHARE,
    MAX_NEW_ITEM_DAYS,
    MOVED_UP,
    PIN,
    PIN_BEYOND_LIMIT,
    PIN_DUPLICATE,
    PIN_SKIPPED,
    PINNED,
    REPLACED_BY_NEW,
    RULE_KINDS,
    SEGMENT_ALL,
    SEGMENT_NEW,
    SEGMENT_RETURNING,
    SEGMENT_USERS,
    Candidate,
    Context,
    CurationResult,
    ItemInfo,
    RankedItem,
    Removed,
    Rule,
    describe,
)

__all__ = [
    "ACTIONS", "ADDED_AS_NEW", "ANNOTATION", "BLOCK", "BLOCKED", "BOOST", "BOOSTED", "BURIED", "CAPPED",
    "CURATED_FALLBACK_TEXT", "DIVERSITY", "HOLDOUT_KINDS", "LABELLED", "MAX_HOLDOUT_SHARE", "MAX_NEW_ITEM_DAYS",
    "MOVED_UP", "PIN", "PIN_BEYOND_LIMIT", "PIN_DUPLICATE", "PIN_SKIPPED", "PINNED", "REPLACED_BY_NEW", "RULE_KINDS",
    "SEGMENT_ALL", "SEGMENT_NEW", "SEGMENT_RETURNING", "SEGMENT_USERS",
    "Candidate", "Context", "CurationResult", "ItemInfo", "RankedItem", "Removed", "Rule", "RuleSet",
    "apply", "curate", "describe", "holdout_draw", "holdout_seed", "in_holdout",
]
