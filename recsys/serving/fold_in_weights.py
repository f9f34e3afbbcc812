"""The weighting a served version's fold-in uses: its own, or the training settings in force."""
from __future__ import annotations

from dataclasses import fields

from recsys.ml.weights import WeightConfig
from recsys.training.config import weight_config as training_weight_config

_CONFIG_FIELDS = {f.name for f in fields(WeightConfig)}


def weight_config(params: dict | None) -> WeightConfig:
    """The version's own weighting if it carries one (`params["weights"]`), else the settings'."""
    raw = (params or {}).get("weights")
    if isinstance(raw, dict):
        return WeightConfig(**{k: v for k, v in raw.items() if k in _CONFIG_FIELDS})
    return training_weight_config()
