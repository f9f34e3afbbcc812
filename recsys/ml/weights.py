"""Event weighting: how much one event says "this shopper likes this item". Pure numpy, no Django.

Training weighs the whole event table with `event_weights` (vectorised); serving weighs one shopper's
history for fold-in with `event_confidences`, a fast path for short histories that must agree with
it (tests check both). A version may carry its own `WeightConfig` in its artifact's `params["weights"]`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recsys.ml.events import DEFAULT_WEIGHTS, RATING, TYPE_CODES

SHORT_HISTORY = 64


SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class WeightConfig:
    """How much one event says "this shopper likes this item".

    weights: confidence per event type. A rating counts (with the rating weight) only when its
    value is >= rating_threshold; lower ratings contribute nothing.
    half_life_days: an event this old counts half; 0 turns decay off.
    window_days: events older than this are left out; 0 means no window.
    """

    weights: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS)
    )
    rating_threshold: float = 4.0
    half_life_days: float = 180.0
    window_days: float = 730.0


def event_weights(type_codes: np.ndarray, values: np.ndarray, timestamps: np.ndarray, *, now: float,
                  config: WeightConfig) -> np.ndarray:
    """Confidence contributed by each event (float32; 0 for events that do not count)."""
    table = np.zeros(len(TYPE_CODES) + 1, dtype=np.float32)  # the last slot: unknown types (code -1)
    for name, code in TYPE_CODES.items():
        table[code] = config.weights.get(name, 0.0)
    w = table[np.asarray(type_codes, dtype=np.int64)]  # -1 indexes the unknown slot, weight 0
    is_rating = type_codes == TYPE_CODES[RATING]
    if is_rating.any():
        w[is_rating & (np.asarray(values) < config.rating_threshold)] = 0.0
    age_days = (now - np.asarray(timestamps, dtype=np.float64)) / SECONDS_PER_DAY
    age_days = np.maximum(age_days, 0.0)
    if config.window_days > 0:
        w[age_days > config.window_days] = 0.0
    if config.half_life_days > 0:
        w *= np.exp2(-age_days / config.half_life_days).astype(np.float32)
    return w


def event_confidences(types: list[str], values: list[float], timestamps: list[float], *, now: float,
                      config: WeightConfig) -> np.ndarray:
    """Per event, `event_weights` above (the training weighting). Most shoppers have a few
    dozen events, where numpy's per-call overhead costs more than the arithmetic, so short
    histories take a plain loop with the same rules (tests check both agree)."""
    if len(types) > SHORT_HISTORY:
        codes = np.fromiter((TYPE_CODES.get(t, -1) for t in types), dtype=np.int64, count=len(types))
        return event_weights(codes, np.asarray(values, dtype=np.float64), np.asarray(timestamps, dtype=np.float64),
                             now=now, config=config)
    table = {name: config.weights.get(name, 0.0) for name in TYPE_CODES}
    window, half_life, threshold = config.window_days, config.half_life_days, config.rating_threshold
    out = []
    for type_, value, ts in zip(types, values, timestamps, strict=True):
        w = table.get(type_, 0.0)
        if type_ == RATING and value < threshold:
            w = 0.0
        age = max((now - ts) / SECONDS_PER_DAY, 0.0)
        if window > 0 and age > window:
            w = 0.0
        if half_life > 0:
            w *= 2.0 ** (-age / half_life)
        out.append(w)
    return np.asarray(out, dtype=np.float32)
