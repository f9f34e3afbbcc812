"""Suggestions inbox (docs/merchandising.md, "Suggestions"): the detectors' period and thresholds."""
import os

from .env import env_float, env_int

# Every detector looks at this many days of impressions, clicks and feedback.
SUGGEST_PERIOD_DAYS = env_int("CURIO_SUGGEST_PERIOD_DAYS", 14)
# rule_expiring: a rule that helps and ends within this many days.
SUGGEST_EXPIRING_DAYS = env_int("CURIO_SUGGEST_EXPIRING_DAYS", 7)
# pin_never_lands: a pin live this long with no exposed impression while its lists were served.
SUGGEST_PIN_GRACE_DAYS = env_int("CURIO_SUGGEST_PIN_GRACE_DAYS", 2)
# item_reported: at least this many feedbacks, at a rate (Wilson lower bound) this many times the shop's ...
SUGGEST_FEEDBACK_MIN = env_int("CURIO_SUGGEST_FEEDBACK_MIN", 5)
SUGGEST_FEEDBACK_RATE_FACTOR = env_float("CURIO_SUGGEST_FEEDBACK_RATE_FACTOR", 3.0)
# ... or this many in the period whatever the item's exposure.
SUGGEST_FEEDBACK_ALWAYS = env_int("CURIO_SUGGEST_FEEDBACK_ALWAYS", 20)
# underexposed: curated impressions at least, click-through (lower bound) this many times the shop's, and at most
# this share of the model's impressions.
SUGGEST_UNDEREXPOSED_MIN_IMPRESSIONS = env_int("CURIO_SUGGEST_UNDEREXPOSED_MIN_IMPRESSIONS", 50)
SUGGEST_UNDEREXPOSED_CTR_FACTOR = env_float("CURIO_SUGGEST_UNDEREXPOSED_CTR_FACTOR", 2.0)
SUGGEST_UNDEREXPOSED_MODEL_SHARE = env_float("CURIO_SUGGEST_UNDEREXPOSED_MODEL_SHARE", 0.002)
# concentration: in one placement, one category's share of impressions over this (and twice its catalog share),
# or the recommendation Gini over this; with at least SUGGEST_CONCENTRATION_MIN_LISTS lists served.
SUGGEST_CONCENTRATION_CATEGORY_SHARE = env_float("CURIO_SUGGEST_CONCENTRATION_CATEGORY_SHARE", 0.5)
SUGGEST_CONCENTRATION_GINI = env_float("CURIO_SUGGEST_CONCENTRATION_GINI", 0.95)
SUGGEST_CONCENTRATION_MIN_LISTS = env_int("CURIO_SUGGEST_CONCENTRATION_MIN_LISTS", 50)
# new_item_unseen: an available item added this many days ago (or more) never shown.
SUGGEST_NEW_ITEM_DAYS = env_int("CURIO_SUGGEST_NEW_ITEM_DAYS", 7)
# model_regression: the active version's first days against the previous version's last as many days; each side
# needs this many model impressions, and the drop must be at least this (relative) and significant.
SUGGEST_MODEL_DAYS = env_int("CURIO_SUGGEST_MODEL_DAYS", 3)
SUGGEST_MODEL_MIN_IMPRESSIONS = env_int("CURIO_SUGGEST_MODEL_MIN_IMPRESSIONS", 1000)
SUGGEST_MODEL_MIN_DROP = env_float("CURIO_SUGGEST_MODEL_MIN_DROP", 0.1)
# A dismissed (or accepted) suggestion comes back only when the count behind it reaches this multiple.
SUGGEST_REOPEN_FACTOR = env_float("CURIO_SUGGEST_REOPEN_FACTOR", 2.0)
# Drafts accepted through the API go into the open change set of this Django user (created inactive when missing):
# name a merchandiser's username to see them on their board.
SUGGEST_API_AUTHOR = os.environ.get("CURIO_SUGGEST_API_AUTHOR", "suggestions")
