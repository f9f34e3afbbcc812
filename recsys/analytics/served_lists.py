"""What the list service asks of analytics, per served list (no DB, no I/O):

- `in_control(user_id, now)`: is this request in the randomized control group (a stable hash of
  shopper and UTC day under CONTROL_SHARE; anonymous requests drawn per request)?
- `rules_for(rules, control)`: the rules to apply; control traffic gets blocks and diversity rules only
  (safety, review-queue decisions and policy, never withheld), no pins, boosts or annotations.
- `blocks_of(rules)`: the block rules alone, for `raw=true` lists (the algorithm's list, but never an
  item a merchandiser blocked, for every token).
- `record(...)`: hand the served list to the impression buffer (recsys.analytics.impression_buffer);
  lists for unsigned shopper ids of public tokens add no rule impressions (a caller choosing ids could
  otherwise fill one arm of a rule's holdout).
"""
from __future__ import annotations

import random

from django.conf import settings

from curation.rules import BLOCK, DIVERSITY, RuleSet
from recsys.analytics.assignment import in_control as _in_control
from recsys.analytics.impression_buffer import record_list


def in_control(user_id: str, now) -> bool:
    share = settings.CONTROL_SHARE
    if share <= 0:
        return False
    if not user_id:
        return random.random() < share
    return _in_control(user_id=user_id, day=now.date(), share=share)


def rules_for(rules: RuleSet, control: bool) -> RuleSet:
    """The curated rules, or for control traffic only their blocks and diversity rules."""
    return rules.of_kinds(BLOCK, DIVERSITY) if control else rules


def blocks_of(rules: RuleSet) -> RuleSet:
    """Only the block rules of `rules`: what a `raw=true` list still applies."""
    return rules.of_kinds(BLOCK)


def record(*, list_type: str, placement: str, user_id: str, response: dict, ranked: list, control: bool,
           count_rules: bool = True) -> None:
    """`count_rules=False` (a shopper id no one vouched for): the impressions count toward no rule's verdict."""
    record_list(recommendation_id=response["recommendation_id"], items=ranked, placement=placement,
                list_type=list_type, model_version=response.get("model_version"), user_id=user_id,
                is_control=control, count_rules=count_rules)
