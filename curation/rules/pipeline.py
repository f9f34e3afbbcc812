"""The engine's entry points: `apply()` (serving) and `curate()` (the preview: also what was removed and why),
composing the steps: the live rules in scope, filters, boosts, pins, the refill under the diversity caps, then
explain and annotate; with the shopper's holdouts drawn, `holdout_positions` serves the list without them."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from .arrangement import arranged
from .explanations import explained_list
from .filters import filtered
from .holdout_positions import served_with_holdouts
from .holdouts import Holdouts
from .index import Bucket, as_ruleset
from .types import Candidate, Context, CurationResult, ItemInfo, RankedItem


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
    """`apply()` that also reports removed items and pin warnings. `rules`: a `RuleSet` (serving's, indexed
    once per rules-stamp change) or any iterable of `Rule`s. `ignore_enabled` is for preview; `report=False`
    (serving, through `apply()`) skips that bookkeeping."""
    if limit <= 0:
        return CurationResult([])
    candidates = candidates if isinstance(candidates, list | tuple) else list(candidates)
    view = as_ruleset(rules).live(context, ignore_enabled)
    removed = [] if report else None
    warnings = [] if report else None
    kept, by_id = filtered(candidates, context, view, item_info, limit=None if _scans_all(view, report) else limit,
                           removed=removed)
    if view is not None and view.holdout_rules and context.holdout_key:
        held = Holdouts(context.holdout_key, view.holdout_shares)
        return served_with_holdouts(kept, by_id, context, view, item_info, held, limit=limit, removed=removed,
                                    warnings=warnings)
    final = arranged(kept, by_id, context, view, item_info, limit=limit, removed=removed, warnings=warnings)
    measured = view.measured_ids if view is not None else frozenset()  # no holdout: no per-rule impressions
    return CurationResult(explained_list(final, measured), removed or [], warnings or [])


def _scans_all(view: Bucket | None, report: bool) -> bool:
    """Must every candidate be filtered? The preview reports each; boosts reorder the survivors; pins and caps
    may need more than `limit` of them. Otherwise the first `limit` survivors are the list."""
    return report or (view is not None and (view.has_boosts or bool(view.pins) or bool(view.diversity)))
