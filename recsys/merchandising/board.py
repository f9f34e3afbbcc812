"""The merchandising board: the curated list as product cards beside the algorithm's, drafts included.

Built from the preview's inputs (the serving list service's candidates before curation) and the pure
engine: the algorithm column with no rules, the curated column with every live rule plus the viewer's
own drafts treated as enabled, so a draft shows on the board at once while shoppers (and other
merchandisers) still get the published rules. This module only reads; the board's writes are
curation.services' change-set functions, validated and audited like every other rule write.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django import forms
from django.urls import reverse

from curation import rules
from curation.models import Rule
from curation.selectors import rules_for_serving
from curation.widgets import ItemPickerWidget
from recsys.analytics.selectors import rule_impacts_measured
from recsys.merchandising.preview import PERSONAL, POPULAR, SIMILAR, PreviewRequest, algorithm_inputs

# New pins, boosts and labels made on the board are measured on this share of shoppers unless changed.
DEFAULT_HOLDOUT_SHARE = 0.1


class BoardForm(forms.Form):
    """What list the board shows; rules made on it take this placement, category and context item."""

    placement = forms.CharField(required=False, max_length=64, initial="home",
                                help_text="The list (home, product_page, cart...).")
    user_id = forms.CharField(label="Shopper", required=False, max_length=128,
                              help_text="Optional: their personal list.")
    category = forms.CharField(required=False, max_length=200, help_text="Optional: a category page's list.")
    context_item_id = forms.CharField(label="Context item", required=False, max_length=128,
                                      widget=ItemPickerWidget(attrs={"size": 14}),
                                      help_text="Optional: its similar items.")
    limit = forms.IntegerField(min_value=1, max_value=48, initial=12, required=False)
    holdout_share = forms.FloatField(label="Holdout", min_value=0.0, max_value=rules.MAX_HOLDOUT_SHARE,
                                     required=False, initial=DEFAULT_HOLDOUT_SHARE,
                                     help_text="Shoppers held out of new rules.")

    def to_request(self) -> BoardRequest:
        d = self.cleaned_data
        share = d.get("holdout_share")
        return BoardRequest(placement=d.get("placement") or "", user_id=d.get("user_id") or "",
                            category=d.get("category") or "", context_item_id=d.get("context_item_id") or "",
                            limit=d.get("limit") or 12,
                            holdout_share=DEFAULT_HOLDOUT_SHARE if share is None else share)


class PinAnyItemForm(forms.Form):
    """Pin an item that is in neither list (the board's drafts form posts it with action=pin)."""

    item_id = forms.CharField(label="Item", max_length=128, widget=ItemPickerWidget(attrs={"id": "id_pin_item"}))
    position = forms.IntegerField(min_value=1, initial=1, widget=forms.NumberInput(attrs={"class": "curio-narrower"}))


@dataclass(frozen=True)
class BoardRequest:
    placement: str = ""
    user_id: str = ""
    category: str = ""
    context_item_id: str = ""
    limit: int = 12
    holdout_share: float = DEFAULT_HOLDOUT_SHARE

    @property
    def list_type(self) -> str:
        return SIMILAR if self.context_item_id else PERSONAL if self.user_id else POPULAR

    def rule_scope(self) -> dict:
        """The scope of rules made on the board: this list, for every shopper."""
        return {"placement": self.placement, "category": self.category,
                "context_item_id": self.context_item_id or None}

    def query(self) -> dict:
        return {"placement": self.placement, "user_id": self.user_id, "category": self.category,
                "context_item_id": self.context_item_id, "limit": self.limit, "holdout_share": self.holdout_share}


@dataclass
class Card:
    rank: int
    item_id: str
    title: str
    image_url: str
    price: str
    category: str
    source: str
    algorithm_rank: int | None = None
    move: str = ""  # "new", "up", "down", ""
    move_by: int = 0
    rules: list[dict] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    draft: bool = False  # a draft of the viewer's change set touched it


@dataclass
class Board:
    request: BoardRequest
    algorithm: list[Card]
    curated: list[Card]
    removed: list[dict]
    warnings: list[str]
    draft_ids: set[int]


def _price(raw) -> str:
    try:
        return f"{Decimal(raw):.2f}" if raw not in (None, "") else ""
    except InvalidOperation:
        return str(raw)


def board_build(req: BoardRequest, *, drafts: list[Rule], now: datetime) -> Board:
    draft_rules = [replace(d.to_engine(), enabled=True) for d in drafts]
    draft_ids = {r.id for r in draft_rules}
    ruleset = rules.RuleSet([r for r in rules_for_serving(now=now) if r.id not in draft_ids] + draft_rules)
    pinned = {r.item_id for r in ruleset.rules if r.kind == rules.PIN}
    preview_req = PreviewRequest(list_type=req.list_type, limit=req.limit, user_id=req.user_id,
                                 item_id=req.context_item_id, placement=req.placement, category=req.category, at=now)
    candidates, context, info, cards = algorithm_inputs(preview_req, now=now, extra_item_ids=pinned)
    candidates = list(candidates)
    plain = rules.curate(candidates, context, (), limit=req.limit, item_info=info)
    curated = rules.curate(candidates, context, ruleset, limit=req.limit, item_info=info)
    algo_rank = {item.item_id: item.rank for item in plain.items}
    impacts = rule_impacts_measured()
    holdout_ids = {r.id for r in ruleset.rules if r.holdout_share}

    def refs(fired: list[dict]) -> list[dict]:
        out = []
        for ref in fired:
            impact = impacts.get(ref["id"])
            verdict = impact.verdict if impact is not None else ("measuring" if ref["id"] in holdout_ids else "")
            out.append({**ref, "draft": ref["id"] in draft_ids, "verdict": verdict,
                        "url": reverse("admin:curation_rule_change", args=[ref["id"]])})
        return out

    def card(item: rules.RankedItem, compare: bool) -> Card:
        c = cards.get(item.item_id)
        before = algo_rank.get(item.item_id)
        move, by = "", 0
        if compare and before is None:
            move = "new"
        elif compare and before != item.rank:
            move, by = ("up", before - item.rank) if before > item.rank else ("down", item.rank - before)
        fired = refs(item.trace.get("rules", [])) if compare else []
        return Card(rank=item.rank, item_id=item.item_id, title=c.title if c else item.item_id,
                    image_url=c.image_url if c else "", price=_price(c.price if c else None),
                    category=c.category if c else "", source=item.source, algorithm_rank=before, move=move,
                    move_by=by, rules=fired, annotations=[a["label"] for a in item.annotations],
                    draft=any(r["draft"] for r in fired))

    removed = []
    for r in curated.removed:
        if r.rule is None:
            continue
        c = cards.get(r.item_id)
        removed.append({"item_id": r.item_id, "title": c.title if c else r.item_id, "reason": r.reason,
                        "rule": refs([r.rule])[0]})
    return Board(request=req, algorithm=[card(i, False) for i in plain.items],
                 curated=[card(i, True) for i in curated.items], removed=removed, warnings=curated.warnings,
                 draft_ids=draft_ids)
