"""Curation impact statistics: pure functions over impression counts (no ORM).

Input rows are aggregates of impressions, one per (source, rule, position, control flag):
`Cell(source, rule_id, position, is_control, impressions, clicks, conversions)`.

Raw CTR is confounded by position (the first slot gets clicked most, and pins sit high), so
every group is also compared with what model-placed items earned *at the same positions*:
    expected = sum_p n_g(p) * ctr_model(p) / sum_p n_g(p)
over the positions where the model has impressions (the "comparable" impressions). The
difference observed - expected gets a normal-approximation 95% interval that carries the
sampling error of both sides. Single rates get Wilson score intervals; curated vs control
gets Newcombe's hybrid score interval for the difference of two proportions.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

Z95 = 1.959963984540054
SOURCES = ("model", "pinned", "boosted", "popular", "new")  # new: exploration slots (recsys.serving.content_lists)


@dataclass(frozen=True)
class Cell:
    source: str
    rule_id: int | None
    position: int
    is_control: bool
    impressions: int
    clicks: int
    conversions: int


@dataclass(frozen=True)
class Rate:
    successes: int
    trials: int
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Difference:
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class GroupStats:
    key: Hashable
    impressions: int
    ctr: Rate
    conversion: Rate
    comparable_impressions: int  # at positions where the model has impressions
    model_ctr_same_positions: float | None
    ctr_vs_model: Difference  # observed CTR - model CTR at the same positions (comparable only)


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval for a binomial proportion; (None, None) without trials."""
    if trials <= 0:
        return None, None
    p = successes / trials
    z2 = z * z
    denom = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(successes: int, trials: int) -> Rate:
    low, high = wilson(successes, trials)
    return Rate(successes, trials, successes / trials if trials else None, low, high)


def newcombe_difference(a: Rate, b: Rate) -> Difference:
    """a - b with Newcombe's (1998, method 10) hybrid score interval from the Wilson limits."""
    if not a.trials or not b.trials:
        return Difference(None, None, None)
    d = a.value - b.value
    low = d - math.sqrt((a.value - a.low) ** 2 + (b.high - b.value) ** 2)
    high = d + math.sqrt((a.high - a.value) ** 2 + (b.value - b.low) ** 2)
    return Difference(d, low, high)


def _per_position(cells: Iterable[Cell]) -> dict[int, tuple[int, int]]:
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for c in cells:
        acc = out[c.position]
        acc[0] += c.impressions
        acc[1] += c.clicks
    return {p: (n, k) for p, (n, k) in out.items()}


def model_reference(cells: Iterable[Cell]) -> dict[int, tuple[int, int]]:
    """Per position (impressions, clicks) of model-placed items: the yardstick."""
    return _per_position(c for c in cells if c.source == "model")


def group_stats(key: Hashable, cells: list[Cell], reference: dict[int, tuple[int, int]]) -> GroupStats:
    n = sum(c.impressions for c in cells)
    clicks = sum(c.clicks for c in cells)
    conversions = sum(c.conversions for c in cells)
    comparable_n = comparable_k = 0
    expected_num = 0.0
    var_expected = 0.0
    for position, (pn, pk) in _per_position(cells).items():
        ref_n, ref_k = reference.get(position, (0, 0))
        if not ref_n or not pn:
            continue
        ref_p = ref_k / ref_n
        comparable_n += pn
        comparable_k += pk
        expected_num += pn * ref_p
        var_expected += pn * pn * ref_p * (1 - ref_p) / ref_n
    if comparable_n:
        expected = expected_num / comparable_n
        observed = comparable_k / comparable_n
        var = observed * (1 - observed) / comparable_n + var_expected / (comparable_n * comparable_n)
        half = Z95 * math.sqrt(var)
        diff = Difference(observed - expected, observed - expected - half, observed - expected + half)
    else:
        expected = None
        diff = Difference(None, None, None)
    return GroupStats(key, n, rate(clicks, n), rate(conversions, n), comparable_n, expected, diff)


def grouped(
    cells: Iterable[Cell], key: Callable[[Cell], Hashable | None], reference: dict[int, tuple[int, int]]
) -> list[GroupStats]:
    """Stats per key (cells whose key is None are left out), in key order."""
    groups: dict[Hashable, list[Cell]] = defaultdict(list)
    for c in cells:
        k = key(c)
        if k is not None:
            groups[k].append(c)
    return [group_stats(k, groups[k], reference) for k in sorted(groups, key=lambda x: (str(type(x)), x))]


@dataclass(frozen=True)
class ImpactReport:
    by_source: list[GroupStats]
    by_rule: list[GroupStats]
    by_position: list[GroupStats]  # key: (position, source)
    curated: GroupStats
    control: GroupStats
    curated_vs_control_ctr: Difference
    curated_vs_control_conversion: Difference


def impact_report(cells: Iterable[Cell]) -> ImpactReport:
    cells = [c for c in cells if c.impressions > 0]
    # The yardstick comes from curated traffic's model-placed items; control traffic is all
    # model/popular and is compared as a whole below.
    curated_cells = [c for c in cells if not c.is_control]
    control_cells = [c for c in cells if c.is_control]
    reference = model_reference(curated_cells) or model_reference(cells)
    by_source = grouped(curated_cells, lambda c: c.source, reference)
    order = {s: i for i, s in enumerate(SOURCES)}
    by_source.sort(key=lambda g: (order.get(g.key, len(order)), g.key))
    by_rule = grouped(curated_cells, lambda c: c.rule_id, reference)
    by_position = grouped(curated_cells, lambda c: (c.position, order.get(c.source, len(order)), c.source), reference)
    by_position = [
        GroupStats((g.key[0], g.key[2]), g.impressions, g.ctr, g.conversion, g.comparable_impressions,
                   g.model_ctr_same_positions, g.ctr_vs_model)
        for g in by_position
    ]
    curated = group_stats("curated", curated_cells, reference)
    control = group_stats("control", control_cells, reference)
    return ImpactReport(
        by_source=by_source,
        by_rule=by_rule,
        by_position=by_position,
        curated=curated,
        control=control,
        curated_vs_control_ctr=newcombe_difference(curated.ctr, control.ctr),
        curated_vs_control_conversion=newcombe_difference(curated.conversion, control.conversion),
    )


CSV_HEADER = [
    "section", "group", "impressions", "clicks", "ctr", "ctr_low", "ctr_high",
    "conversions", "conversion_rate", "conversion_low", "conversion_high",
    "comparable_impressions", "model_ctr_same_positions", "ctr_minus_model", "ctr_minus_model_low",
    "ctr_minus_model_high",
]


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.6f}"


def csv_rows(report: ImpactReport, rule_label: Callable[[int], str] = str) -> list[list[str]]:
    """The report flattened for CSV export (header first)."""
    rows = [list(CSV_HEADER)]

    def add(section: str, label: str, g: GroupStats) -> None:
        rows.append([
            section, label, str(g.impressions), str(g.ctr.successes), _fmt(g.ctr.value), _fmt(g.ctr.low),
            _fmt(g.ctr.high), str(g.conversion.successes), _fmt(g.conversion.value), _fmt(g.conversion.low),
            _fmt(g.conversion.high), str(g.comparable_impressions), _fmt(g.model_ctr_same_positions),
            _fmt(g.ctr_vs_model.value), _fmt(g.ctr_vs_model.low), _fmt(g.ctr_vs_model.high),
        ])

    for g in report.by_source:
        add("source", str(g.key), g)
    for g in report.by_rule:
        add("rule", rule_label(g.key), g)
    for g in report.by_position:
        add("position", f"{g.key[0]}:{g.key[1]}", g)
    add("traffic", "curated", report.curated)
    add("traffic", "control", report.control)
    for name, d in (("ctr", report.curated_vs_control_ctr), ("conversion", report.curated_vs_control_conversion)):
        rows.append(["curated_minus_control", name, "", "", _fmt(d.value), _fmt(d.low), _fmt(d.high)]
                    + [""] * (len(CSV_HEADER) - 7))
    return rows
