"""Each rule against its own holdout: pure statistics over per-rule counts (no ORM).

Input: per rule, what its two arms earned on the positions it touches (`ArmCounts`): the exposed arm
(the rule's items where it placed, boosted or labelled them) and the holdout arm (what held-out
shoppers were shown at the positions the rule would have filled). Rates get Wilson intervals and the
difference exposed - holdout Newcombe's interval (recsys.analytics.impact_stats).

Peeking: looking at a running test every day and stopping at the first "significant" answer inflates
false positives. So a verdict is given only once both arms reach a sample size planned in advance:
    n per arm = (z_{1-a/2} sqrt(2 p(1-p)) + z_{1-b} sqrt(p1(1-p1) + p2(1-p2)))^2 / (p2 - p1)^2
with p1 the holdout CTR, p2 = p1 (1 + MDE), p their mean, a = 0.05 and power 1 - b = 0.8. Until the
holdout has clicks, p1 is the pooled CTR, or 5% before any click: the plan firms up as data comes in.

Many rules: among the rules that reached their planned size, the two-sided p-values of the CTR
difference go through Benjamini-Hochberg at the false-discovery rate (CURIO_RULE_FDR, 5%): only the
discoveries get "helps" or "hurts"; every other rule is "unknown".
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from recsys.analytics.impact_stats import Difference, Rate, newcombe_difference, rate

Z_ALPHA = 1.959963984540054  # two-sided 95%
Z_POWER = 0.8416212335729143  # 80% power
PRIOR_CTR = 0.05  # the plan's baseline before any click is seen


@dataclass(frozen=True)
class ArmCounts:
    impressions: int = 0
    clicks: int = 0
    purchases: int = 0


@dataclass(frozen=True)
class ArmStats:
    impressions: int
    clicks: int
    purchases: int
    ctr: Rate
    conversion: Rate


@dataclass(frozen=True)
class RuleImpact:
    rule_id: Hashable
    exposed: ArmStats
    holdout: ArmStats
    ctr_difference: Difference
    conversion_difference: Difference
    p_value: float | None
    needed_impressions: int  # per arm
    verdict: str  # helps | hurts | unknown


def arm_stats(c: ArmCounts) -> ArmStats:
    return ArmStats(c.impressions, c.clicks, c.purchases, rate(min(c.clicks, c.impressions), c.impressions),
                    rate(min(c.purchases, c.impressions), c.impressions))


def needed_per_arm(baseline: float, mde: float) -> int:
    """Impressions per arm to detect a relative CTR change of `mde` from `baseline` (95%, 80% power)."""
    p1 = min(max(baseline, 1e-6), 1 - 1e-6)
    p2 = min(p1 * (1 + mde), 1 - 1e-6)
    if p2 == p1:
        return 0
    p = (p1 + p2) / 2
    n = (Z_ALPHA * math.sqrt(2 * p * (1 - p)) + Z_POWER * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    return math.ceil(n / (p2 - p1) ** 2)


def planned_size(exposed: ArmCounts, holdout: ArmCounts, mde: float) -> int:
    if holdout.clicks and holdout.impressions:
        baseline = holdout.clicks / holdout.impressions
    elif exposed.clicks and exposed.impressions + holdout.impressions:
        baseline = (exposed.clicks + holdout.clicks) / (exposed.impressions + holdout.impressions)
    else:
        baseline = PRIOR_CTR
    return needed_per_arm(baseline, mde)


def two_proportion_p(a: ArmCounts, b: ArmCounts) -> float | None:
    """Two-sided p-value of the pooled z-test for a difference in CTR."""
    if not a.impressions or not b.impressions:
        return None
    pooled = (a.clicks + b.clicks) / (a.impressions + b.impressions)
    se = math.sqrt(pooled * (1 - pooled) * (1 / a.impressions + 1 / b.impressions))
    if se == 0:
        return 1.0
    z = (a.clicks / a.impressions - b.clicks / b.impressions) / se
    return math.erfc(abs(z) / math.sqrt(2))


def benjamini_hochberg(p_values: Mapping[Hashable, float], q: float) -> set[Hashable]:
    """The keys whose p-values are discoveries at false-discovery rate q (step-up procedure)."""
    ordered = sorted(p_values.items(), key=lambda kv: kv[1])
    m = len(ordered)
    cutoff = 0
    for i, (_, p) in enumerate(ordered, start=1):
        if p <= q * i / m:
            cutoff = i
    return {key for key, _ in ordered[:cutoff]}


def rule_impacts(counts: Mapping[Hashable, tuple[ArmCounts, ArmCounts]], *, mde: float,
                 fdr: float) -> dict[Hashable, RuleImpact]:
    """Per rule (exposed, holdout) -> its impact, verdicts controlled for the false-discovery rate."""
    planned = {rid: planned_size(e, h, mde) for rid, (e, h) in counts.items()}
    p_values = {rid: two_proportion_p(e, h) for rid, (e, h) in counts.items()}
    ready = {rid: p_values[rid] for rid, (e, h) in counts.items()
             if p_values[rid] is not None and min(e.impressions, h.impressions) >= planned[rid]}
    discoveries = benjamini_hochberg(ready, fdr)
    out = {}
    for rid, (e, h) in counts.items():
        exposed, holdout = arm_stats(e), arm_stats(h)
        ctr_diff = newcombe_difference(exposed.ctr, holdout.ctr)
        verdict = "unknown"
        if rid in discoveries and ctr_diff.value:
            verdict = "helps" if ctr_diff.value > 0 else "hurts"
        out[rid] = RuleImpact(rid, exposed, holdout, ctr_diff, newcombe_difference(exposed.conversion,
                              holdout.conversion), p_values[rid], planned[rid], verdict)
    return out


def _rate_json(r: Rate) -> dict:
    return {"value": r.value, "low": r.low, "high": r.high}


def _difference_json(d: Difference) -> dict:
    return {"value": d.value, "low": d.low, "high": d.high}


def impact_json(impact: RuleImpact) -> dict:
    """The API's answer: exposed, holdout, difference (exposed - holdout), verdict, needed_impressions."""
    def arm(a: ArmStats) -> dict:
        return {"impressions": a.impressions, "clicks": a.clicks, "purchases": a.purchases,
                "ctr": _rate_json(a.ctr), "conversion": _rate_json(a.conversion)}
    return {"exposed": arm(impact.exposed), "holdout": arm(impact.holdout),
            "difference": {"ctr": _difference_json(impact.ctr_difference),
                           "conversion": _difference_json(impact.conversion_difference)},
            "p_value": impact.p_value, "verdict": impact.verdict, "needed_impressions": impact.needed_impressions}


CSV_HEADER = ("section", "rule", "verdict", "needed_impressions", "exposed_impressions", "exposed_clicks",
              "exposed_ctr",
              "exposed_ctr_low", "exposed_ctr_high", "holdout_impressions", "holdout_clicks", "holdout_ctr",
              "holdout_ctr_low", "holdout_ctr_high", "ctr_difference", "ctr_difference_low", "ctr_difference_high",
              "exposed_purchases", "holdout_purchases", "conversion_difference", "p_value")


def csv_rows(impacts: list[RuleImpact], rule_label=str) -> list[list[str]]:
    """Per-rule holdout figures for the impact report's CSV: a header row, then one "rule_holdout" row per rule."""
    def f(x: float | None) -> str:
        return "" if x is None else f"{x:.6f}"

    rows = [list(CSV_HEADER)]
    for i in impacts:
        e, h, d = i.exposed, i.holdout, i.ctr_difference
        rows.append(["rule_holdout", rule_label(i.rule_id), i.verdict, str(i.needed_impressions), str(e.impressions),
                     str(e.clicks),
                     f(e.ctr.value), f(e.ctr.low), f(e.ctr.high), str(h.impressions), str(h.clicks), f(h.ctr.value),
                     f(h.ctr.low), f(h.ctr.high), f(d.value), f(d.low), f(d.high), str(e.purchases), str(h.purchases),
                     f(i.conversion_difference.value), f(i.p_value)])
    return rows
