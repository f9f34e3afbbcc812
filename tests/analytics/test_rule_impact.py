"""Per-rule impact statistics (recsys.analytics.rule_impact, pure) against values worked out by hand."""
from __future__ import annotations

import math

import pytest

from recsys.analytics.rule_impact import (
    ArmCounts,
    benjamini_hochberg,
    impact_json,
    needed_per_arm,
    rule_impacts,
    two_proportion_p,
)


def test_planned_sample_size_matches_the_textbook_formula():
    # 5% -> 6% (MDE 20%), two-sided 5%, power 80%: Fleiss' formula without continuity correction.
    assert needed_per_arm(0.05, 0.2) == 8158
    assert needed_per_arm(0.10, 0.5) == 686
    assert needed_per_arm(0.05, 0.4) < needed_per_arm(0.05, 0.2)  # a larger effect needs fewer


def test_two_proportion_z_test_and_benjamini_hochberg():
    p = two_proportion_p(ArmCounts(1000, 120), ArmCounts(1000, 100))
    z = 0.02 / math.sqrt(0.11 * 0.89 * (2 / 1000))
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))
    # Sorted p: .01 .03 .04 .5 against .0125 .025 .0375 .05: only the first is a discovery.
    assert benjamini_hochberg({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.5}, 0.05) == {"a"}
    # Step-up: .03 fails its own threshold (.025) but .04 passes .05, so both are discoveries.
    assert benjamini_hochberg({"a": 0.03, "b": 0.04}, 0.05) == {"a", "b"}


def test_no_verdict_before_the_planned_size_however_large_the_difference():
    counts = {1: (ArmCounts(500, 100, 10), ArmCounts(500, 25, 2))}  # 20% vs 5%: p is tiny
    impact = rule_impacts(counts, mde=0.2, fdr=0.05)[1]
    assert impact.p_value < 1e-6 and impact.needed_impressions > 500
    assert impact.verdict == "unknown"


def test_verdicts_once_the_planned_size_is_reached():
    n = needed_per_arm(0.05, 0.2) + 500  # a little over the plan (rounded counts move the baseline)
    counts = {
        "helps": (ArmCounts(n, int(n * 0.07), 30), ArmCounts(n, int(n * 0.05), 20)),
        "hurts": (ArmCounts(n, int(n * 0.03), 5), ArmCounts(n, int(n * 0.05), 20)),
        "flat": (ArmCounts(n, int(n * 0.05), 20), ArmCounts(n, int(n * 0.05), 20)),
        "young": (ArmCounts(100, 30, 1), ArmCounts(100, 5, 0)),
    }
    out = rule_impacts(counts, mde=0.2, fdr=0.05)
    assert {k: v.verdict for k, v in out.items()} == {"helps": "helps", "hurts": "hurts", "flat": "unknown",
                                                     "young": "unknown"}
    helps = out["helps"]
    assert helps.ctr_difference.low > 0 and helps.ctr_difference.value == pytest.approx(
        helps.exposed.ctr.value - helps.holdout.ctr.value)
    body = impact_json(helps)
    assert set(body) == {"exposed", "holdout", "difference", "verdict", "needed_impressions", "p_value"}
    assert set(body["exposed"]) == {"impressions", "clicks", "purchases", "ctr", "conversion"}
    assert body["exposed"]["ctr"]["low"] < body["exposed"]["ctr"]["value"] < body["exposed"]["ctr"]["high"]


def test_many_rules_are_corrected_for_multiple_comparisons():
    n = needed_per_arm(0.05, 0.2) + 500
    flat = (ArmCounts(n, round(n * 0.05)), ArmCounts(n, round(n * 0.05)))
    counts = {i: flat for i in range(18)}
    counts["lucky"] = (ArmCounts(n, round(n * 0.0573)), ArmCounts(n, round(n * 0.05)))  # p ~ 0.03 by chance
    counts["real"] = (ArmCounts(n, round(n * 0.08)), ArmCounts(n, round(n * 0.05)))
    assert 0.01 < two_proportion_p(*counts["lucky"]) < 0.05  # alone, it would pass as "helps"
    out = rule_impacts(counts, mde=0.2, fdr=0.05)
    assert out["real"].verdict == "helps"
    assert out["lucky"].verdict == "unknown"  # not among 20 rules: Benjamini-Hochberg holds it back
    assert rule_impacts({"lucky": counts["lucky"]}, mde=0.2, fdr=0.05)["lucky"].verdict == "helps"


def test_empty_arms_answer_without_dividing_by_zero():
    impact = rule_impacts({9: (ArmCounts(), ArmCounts())}, mde=0.2, fdr=0.05)[9]
    assert impact.verdict == "unknown" and impact.p_value is None and impact.needed_impressions == 8158
    assert impact_json(impact)["difference"]["ctr"]["value"] is None
