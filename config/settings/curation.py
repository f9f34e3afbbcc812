"""Curation (docs/curation.md): how fast rule changes reach serving, rule holdouts, the impact verdict's power."""
from django.core.exceptions import ImproperlyConfigured

from .env import env_float

# How often a serving process looks at the rules stamp (Redis key, or a DB row without Redis).
# Worst-case visibility of a rule change is this plus one reload, so keep it under 1 s.
CURATION_RULES_CHECK_SECONDS = env_float("CURIO_CURATION_CHECK_SECONDS", 0.5)
# Share of shoppers held out of a new pin, boost or annotation when the request gives no holdout_share
# (0 to 0.5; 0 keeps every rule on for everyone, as before per-rule holdouts existed).
RULE_HOLDOUT_SHARE = env_float("CURIO_RULE_HOLDOUT_SHARE", 0.0)
if not 0.0 <= RULE_HOLDOUT_SHARE <= 0.5:
    raise ImproperlyConfigured(f"CURIO_RULE_HOLDOUT_SHARE={RULE_HOLDOUT_SHARE}: give a share between 0 and 0.5")
# Per-rule impact: the smallest relative CTR change worth detecting (0.2 = 20%). It sets the planned
# sample size per arm (95% confidence, 80% power); no verdict is given before both arms reach it.
RULE_MDE = env_float("CURIO_RULE_MDE", 0.2)
# False-discovery rate across rules with a verdict (Benjamini-Hochberg).
RULE_FDR = env_float("CURIO_RULE_FDR", 0.05)
