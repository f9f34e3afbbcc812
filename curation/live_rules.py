"""The active rules as serving sees them, reloaded only when the rules stamp changes.

`current_rules()` is called on every list request. It returns a per-process, pre-indexed `RuleSet`
kept by recsys.ops.stamps (the stamp looked at every CURATION_RULES_CHECK_SECONDS, 0.5 s by default:
with Redis one GET, without it a primary-key read of the `RulesStamp` row; rules loaded from the DB
only when it moved). Rules outside their window are included: the request's `now` decides, so an
expiry takes effect without any write.
"""
from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from recsys.ops.stamps import Stamp, StampedValue

from .models import RulesStamp
from .rules import RuleSet
from .selectors import rules_for_serving, rules_stamp_version

STAMP_KEY = "curation:rules-stamp"

_rules: StampedValue[RuleSet] = StampedValue(
    Stamp(STAMP_KEY, rules_stamp_version),
    load=lambda: RuleSet(rules_for_serving(now=timezone.now())),
    interval=lambda: settings.CURATION_RULES_CHECK_SECONDS,
    empty=RuleSet(),
)


def current_rules() -> RuleSet:
    return _rules.get()


def rules_changed() -> int:
    """Move the rules stamp in the current transaction (curation.services, after every rule write): this thread
    sees the new rules at once, every process within a second of the commit."""
    return _rules.bump(RulesStamp, changed_at=timezone.now())


def invalidate() -> None:
    """Forget the cached rules in this process; the next call reloads them."""
    _rules.invalidate()
