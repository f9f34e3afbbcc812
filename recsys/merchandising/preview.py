"""Admin preview: the algorithm's list and the curated list side by side, at any moment.

The algorithm's candidates come from the serving list service's public
`recsys.serving.lists.candidates_without_curation` (through `algorithm_inputs`). Both columns go
through the same pure engine: the algorithm column with no rules (filters only), the curated
column with every rule, optionally disabled ones too, evaluated at the chosen "preview at" moment.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from django import forms
from django.urls import reverse
from django.utils import timezone

from curation import rules
from curation.selectors import rules_for_preview
from recsys.serving import lists

PERSONAL, SIMILAR, POPULAR = "personal", "similar", "popular"


class PreviewError(Exception):
    """The preview cannot be built (e.g. an unknown item); the message is shown as is."""


class PreviewForm(forms.Form):
    list_type = forms.ChoiceField(label="List", choices=[
        (PERSONAL, "Shopper's personal list"), (SIMILAR, "Similar items (product page)"), (POPULAR, "Popular list")])
    user_id = forms.CharField(label="Shopper id", required=False, max_length=128,
                              help_text="For personal lists (optional for similar lists).")
    item_id = forms.CharField(label="Item id", required=False, max_length=128, help_text="For similar-item lists.")
    placement = forms.CharField(required=False, max_length=64, help_text="e.g. home, product_page, cart, email.")
    category = forms.CharField(required=False, max_length=200, help_text="Only lists filtered to this category.")
    limit = forms.IntegerField(min_value=1, max_value=100, initial=10, required=False)
    at = forms.DateTimeField(label="Preview at", required=False,
                             widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                        format="%Y-%m-%dT%H:%M"),
                             input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                                            "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
                             help_text="Empty: now. Pick a later moment to see scheduled rules (UTC).")
    include_disabled = forms.BooleanField(label="Include disabled rules (drafts)", required=False)

    def clean(self):
        data = super().clean()
        if data.get("list_type") == PERSONAL and not data.get("user_id"):
            self.add_error("user_id", "A personal list needs a shopper id.")
        if data.get("list_type") == SIMILAR and not data.get("item_id"):
            self.add_error("item_id", "A similar-items list needs an item id.")
        return data

    def to_request(self) -> PreviewRequest:
        d = self.cleaned_data
        return PreviewRequest(list_type=d["list_type"], user_id=d.get("user_id") or "",
                              item_id=d.get("item_id") or "", placement=d.get("placement") or "",
                              category=d.get("category") or "", limit=d.get("limit") or 10,
                              at=d.get("at") or timezone.now(), include_disabled=d.get("include_disabled", False))


@dataclass
class PreviewRequest:
    list_type: str
    limit: int = 10
    user_id: str = ""
    item_id: str = ""
    placement: str = ""
    category: str = ""
    at: datetime | None = None
    include_disabled: bool = False


@dataclass
class Row:
    rank: int
    item_id: str
    title: str
    source: str
    score: float
    algorithm_rank: int | None = None
    move: str = ""  # "new", "↑3", "↓2", ""
    rules: list[dict] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)


@dataclass
class PreviewResult:
    request: PreviewRequest
    algorithm: list[Row]
    curated: list[Row]
    removed: list[dict]
    warnings: list[str]
    rules_count: int


def algorithm_inputs(req: PreviewRequest, *, now: datetime, extra_item_ids: set[str]):
    """Candidates, context and item lookup exactly as the serving list service builds them, from its
    public `candidates_without_curation`. Returns (candidates, context, item_info, cards by item id)."""
    list_type = {PERSONAL: lists.PERSONAL, SIMILAR: lists.SIMILAR, POPULAR: lists.POPULAR}[req.list_type]
    item_ids = (req.item_id,) if list_type == lists.SIMILAR else ()
    request = lists.ListRequest(list_type, req.limit, req.placement, req.category, req.user_id, False, item_ids)
    try:
        [uncurated] = lists.candidates_without_curation([request], at=now, extra_item_ids=extra_item_ids)
    except lists.UnknownItem as exc:
        raise PreviewError(f"Unknown item {exc.item_id!r}.") from exc
    # The preview shows what the rules do: nobody is held out of them here.
    return uncurated.candidates, replace(uncurated.context, holdout_key=""), uncurated.item_info, uncurated.cards


def preview(req: PreviewRequest) -> PreviewResult:
    at = req.at or timezone.now()
    all_rules = rules_for_preview()
    pinned = {r.item_id for r in all_rules if r.kind == rules.PIN}
    candidates, context, info, cards = algorithm_inputs(req, now=at, extra_item_ids=pinned)
    titles = {k: c.title for k, c in cards.items()}
    candidates = list(candidates)
    plain = rules.curate(candidates, context, (), limit=req.limit, item_info=info)
    curated = rules.curate(candidates, context, rules.RuleSet(all_rules), limit=req.limit, item_info=info,
                            ignore_enabled=req.include_disabled)
    by_id = {r.id: r for r in all_rules}
    algo_rank = {item.item_id: item.rank for item in plain.items}

    def rule_links(refs: list[dict]) -> list[dict]:
        out = []
        for ref in refs:
            rule = by_id.get(ref["id"])
            out.append({**ref, "url": reverse("admin:curation_rule_change", args=[ref["id"]]),
                        "disabled": rule is not None and not rule.enabled,
                        "not_live_now": rule is not None and not rule.is_live(timezone.now())})
        return out

    def row(item: rules.RankedItem, compare: bool) -> Row:
        move = ""
        if compare:
            before = algo_rank.get(item.item_id)
            if before is None:
                move = "new"
            elif before != item.rank:
                move = f"↑{before - item.rank}" if before > item.rank else f"↓{item.rank - before}"
        return Row(rank=item.rank, item_id=item.item_id, title=titles.get(item.item_id, ""), source=item.source,
                   score=item.score, algorithm_rank=item.trace.get("algorithm_rank"), move=move,
                   rules=rule_links(item.trace.get("rules", [])), annotations=[a["label"] for a in item.annotations])

    removed = [
        {"item_id": r.item_id, "title": titles.get(r.item_id, ""), "reason": r.reason,
         "rule": rule_links([r.rule])[0] if r.rule else None}
        for r in curated.removed
        if r.rule is not None or (r.reason == "cut" and r.item_id in algo_rank)
    ]
    return PreviewResult(request=req, algorithm=[row(i, False) for i in plain.items],
                         curated=[row(i, True) for i in curated.items], removed=removed,
                         warnings=curated.warnings, rules_count=len(all_rules))
