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


def publish_stamp(version: int) -> None:
    """Called after a rules write commits: tell every process (Redis) and refresh this one at once."""
    _rules.changed(version)


def invalidate() -> None:
    """Forget the cached rules in this process; the next call reloads them."""
    _rules.invalidate()
