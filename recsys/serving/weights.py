"""A shopper's events -> per-item confidences, weighed exactly like training weighs them.

Fold-in must see a history the way the model was trained: the weighting lives in
`recsys.matrix` (type weights, low ratings ignored, half-life decay); a version may carry its
own `WeightConfig` fields in the artifact's `params["weights"]`.
"""
from __future__ import annotations

from dataclasses import fields

import numpy as np

from recsys.matrix import SECONDS_PER_DAY, TYPE_CODES, WeightConfig, event_weights

# Wording of a history reason, and which event type speaks loudest for an item.
EVENT_VERBS = {"purchase": "bought", "add_to_cart": "added to your cart", "rating": "rated",
               "click": "viewed", "view": "viewed"}
STRENGTH = {"purchase": 4, "add_to_cart": 3, "rating": 2, "click": 1, "view": 0}
_CONFIG_FIELDS = {f.name for f in fields(WeightConfig)}
SHORT_HISTORY = 64


def weight_config(params: dict | None) -> WeightConfig:
    """The version's own weighting if it carries one, else the training settings in force."""
    raw = (params or {}).get("weights")
    if isinstance(raw, dict):
        return WeightConfig(**{k: v for k, v in raw.items() if k in _CONFIG_FIELDS})
    from recsys.services.training import weight_config as training_weight_config

    return training_weight_config()


def event_confidences(types: list[str], values: list[float], timestamps: list[float], *, now: float,
                      config: WeightConfig) -> np.ndarray:
    """Per event, `recsys.matrix.event_weights` (the training weighting). Most shoppers have a few
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
        if type_ == "rating" and value < threshold:
            w = 0.0
        age = max((now - ts) / SECONDS_PER_DAY, 0.0)
        if window > 0 and age > window:
            w = 0.0
        if half_life > 0:
            w *= 2.0 ** (-age / half_life)
        out.append(w)
    return np.asarray(out, dtype=np.float32)
