"""Planted problems for `demo --planted` and the detectors' tests: one case per detector, written into a loaded shop
as the serving path would have recorded it (impressions, rule impressions, clicks, feedback, rules, model versions).

`clean=True` writes the same background traffic with no problem in it: the detectors must find nothing there.
Deterministic by `seed`. Writes in bulk; only for demo and test shops (it invents traffic).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

from django.db import transaction

from curation.models import Rule
from curation.services import rules_stamp_bump
from recsys.analytics.models import Impression, RuleImpression
from recsys.catalog.availability import availability_changed
from recsys.catalog.models import Event, Item, Shopper
from recsys.feedback.models import Feedback, FeedbackType
from recsys.training.models import ModelVersion

PREFIX = "planted"


@dataclass
class Planted:
    items: dict[str, str] = field(default_factory=dict)  # detector -> item id
    rules: dict[str, int] = field(default_factory=dict)  # detector -> rule id
    versions: tuple[int, int] | None = None  # (previous, current)
    placement: str = ""  # the concentrated placement


class _Writer:
    def __init__(self, now: datetime, seed: int) -> None:
        self.now, self.rng, self.seq = now, random.Random(seed), count(1)
        self.shoppers = [Shopper.objects.get_or_create(user_id=f"{PREFIX}-shopper-{n}")[0] for n in range(30)]
        self.pk = dict(Item.objects.values_list("item_id", "pk"))
        self.impressions: list[Impression] = []
        self.rule_rows: list[RuleImpression] = []
        self.events: list[Event] = []

    def _click(self, rec: str, item_id: str, user: Shopper, at: datetime) -> None:
        self.events.append(Event(event_id=f"{PREFIX}-{next(self.seq)}", shopper=user, item_id=self.pk[item_id],
                                 type="click", timestamp=at, recommendation_id=rec))

    def lists(self, *, items: list[str], n_lists: int, length: int, ctr: float, placement: str, source: str = "model",
              version: int | None = None, start: datetime, end: datetime) -> None:
        span = (end - start).total_seconds()
        for _ in range(n_lists):
            rec = f"{PREFIX}-{next(self.seq)}"
            user = self.rng.choice(self.shoppers)
            at = start + timedelta(seconds=self.rng.random() * span)
            for position, item_id in enumerate(self.rng.sample(items, min(length, len(items))), start=1):
                self.impressions.append(Impression(
                    recommendation_id=rec, position=position, item_id=self.pk[item_id], source=source,
                    placement=placement, list_type="personal", model_version=version, user_id=user.user_id,
                    created_at=at))
                if self.rng.random() < ctr:
                    self._click(rec, item_id, user, at)

    def arm(self, *, rule_id: int, arm: str, item_id: str, n: int, ctr: float) -> None:
        for k in range(n):
            rec, user = f"{PREFIX}-{next(self.seq)}", self.rng.choice(self.shoppers)
            at = self.now - timedelta(hours=self.rng.random() * 72)
            self.rule_rows.append(RuleImpression(rule_id=rule_id, arm=arm, recommendation_id=rec, position=1,
                                                 item_id=self.pk[item_id], user_id=user.user_id, created_at=at))
            if k < round(n * ctr):  # exact rates: the verdicts do not depend on the seed
                self._click(rec, item_id, user, at)

    def flush(self) -> None:
        Impression.objects.bulk_create(self.impressions, batch_size=2000)
        RuleImpression.objects.bulk_create(self.rule_rows, batch_size=2000)
        Event.objects.bulk_create(self.events, batch_size=2000)


def _rule(**fields) -> Rule:
    rule = Rule(created_by=f"{PREFIX}:demo", updated_by=f"{PREFIX}:demo", **fields)
    rule.full_clean()
    rule._change_reason = "planted for the suggestions demo"
    rule.save()
    return rule


@transaction.atomic
def planted_problems_seed(*, now: datetime, seed: int = 0, clean: bool = False) -> Planted:
    """Plant one case per detector (or, `clean`, only healthy background traffic) into the loaded shop."""
    catalog = list(Item.objects.filter(available=True).order_by("item_id").values_list("item_id", "category"))
    if len(catalog) < 12:
        raise ValueError("Load a shop first (at least 12 available items): e.g. `manage.py demo --planted`.")
    w, out = _Writer(now, seed), Planted()
    ids = [i for i, _ in catalog]
    picks = dict(zip(("rule_hurts", "rule_expiring", "pin_unavailable", "pin_never_lands", "item_reported",
                      "underexposed"), ids[1:7], strict=True))
    background = [i for i in ids if i not in (picks["underexposed"], picks["pin_unavailable"])]
    # Two model versions: the previous one served for days, the current one was activated 2 days ago.
    activated = now - timedelta(days=2)
    previous = ModelVersion.objects.create(kind="als", metrics={"ndcg@10": 0.21})
    ModelVersion.objects.filter(is_active=True).update(is_active=False)
    current = ModelVersion.objects.create(kind="als", metrics={"ndcg@10": 0.22}, is_active=True, activated_at=activated)
    ModelVersion.objects.filter(pk=previous.pk).update(activated_at=now - timedelta(days=20))
    out.versions = (previous.pk, current.pk)
    w.lists(items=background, n_lists=500, length=5, ctr=0.08, placement="home", version=previous.pk,
            start=activated - timedelta(days=2), end=activated)
    w.lists(items=background, n_lists=500, length=5, ctr=0.08 if clean else 0.035, placement="home",
            version=current.pk, start=activated, end=now)
    w.lists(items=background, n_lists=300, length=4, ctr=0.03, placement="category", source="popular",
            start=now - timedelta(days=3), end=now)
    if clean:
        w.flush()
        return out
    # model_regression: planted above (click-through 8% before, 3.5% since the new version).
    # rule_hurts: a boost whose held-out shoppers click twice as often.
    hurts = _rule(kind="boost", item_id=picks["rule_hurts"], strength=0.8, placement="home", holdout_share=0.1,
                  name="Boost the house brand")
    w.arm(rule_id=hurts.pk, arm="exposed", item_id=picks["rule_hurts"], n=5000, ctr=0.04)
    w.arm(rule_id=hurts.pk, arm="holdout", item_id=picks["rule_hurts"], n=5000, ctr=0.08)
    # rule_expiring: a pin that helps and ends in 3 days.
    helps = _rule(kind="pin", item_id=picks["rule_expiring"], position=2, placement="home", holdout_share=0.1,
                  name="Spring feature", starts_at=now - timedelta(days=11), ends_at=now + timedelta(days=3))
    w.arm(rule_id=helps.pk, arm="exposed", item_id=picks["rule_expiring"], n=5000, ctr=0.12)
    w.arm(rule_id=helps.pk, arm="holdout", item_id=picks["rule_expiring"], n=5000, ctr=0.08)
    # pin_unavailable: a pin of an item that went out of stock.
    gone = _rule(kind="pin", item_id=picks["pin_unavailable"], position=1, placement="home", name="Hero product")
    Item.objects.filter(item_id=picks["pin_unavailable"]).update(available=False)
    availability_changed()
    # pin_never_lands: a pin whose item a block rule removes from every list.
    blocked = _rule(kind="pin", item_id=picks["pin_never_lands"], position=1, placement="home", name="Editor's pick")
    Rule.objects.filter(pk=blocked.pk).update(created_at=now - timedelta(days=5))
    _rule(kind="block", item_id=picks["pin_never_lands"], reason="supplier recall")
    # item_reported: 25 "not interested" in the period.
    Feedback.objects.bulk_create([Feedback(shopper=s, item_id=w.pk[picks["item_reported"]],
                                           type=FeedbackType.NOT_INTERESTED, status=Feedback.Status.NONE)
                                  for s in w.shoppers[:25]])
    # underexposed: clicked 30% of the time where popularity shows it, never recommended by the model.
    w.lists(items=[picks["underexposed"]], n_lists=200, length=1, ctr=0.3, placement="category", source="popular",
            start=now - timedelta(days=3), end=now)
    # concentration: the cart list shows one category only.
    top = catalog[0][1]
    same = [i for i, c in catalog if c == top and i in background]
    w.lists(items=same, n_lists=120, length=min(4, len(same)), ctr=0.05, placement="cart", version=current.pk,
            start=activated, end=now)
    out.placement = "cart"
    # new_item_unseen: an item added 10 days ago that no list has shown.
    new = Item.objects.create(item_id=f"{PREFIX}-new-arrival", title="New arrival (planted)", category=top)
    Item.objects.filter(pk=new.pk).update(created_at=now - timedelta(days=10))
    w.flush()
    rules_stamp_bump()
    out.items = {"item_reported": picks["item_reported"], "underexposed": picks["underexposed"],
                 "new_item_unseen": new.item_id}
    out.rules = {"rule_hurts": hurts.pk, "rule_expiring": helps.pk, "pin_unavailable": gone.pk,
                 "pin_never_lands": blocked.pk}
    return out
