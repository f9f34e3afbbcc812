"""Training settings as the pure core's configuration objects (read from Django settings on each call).

Serving reads the same weighting for fold-in when a version carries none of its own.
"""
from django.conf import settings

from recsys.ml import fitting, matrix


def weight_config() -> matrix.WeightConfig:
    return matrix.WeightConfig(
        weights=dict(settings.TRAINING_EVENT_WEIGHTS), rating_threshold=settings.TRAINING_RATING_THRESHOLD,
        half_life_days=settings.TRAINING_HALF_LIFE_DAYS, window_days=settings.TRAINING_WINDOW_DAYS,
    )


def fit_options() -> fitting.FitOptions:
    return fitting.FitOptions(num_threads=settings.TRAINING_NUM_THREADS, use_gpu=settings.TRAINING_USE_GPU,
                              random_state=settings.TRAINING_SEED, ease_max_items=settings.TRAINING_EASE_MAX_ITEMS)
