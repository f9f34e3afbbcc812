"""Serving: shopper history, item and popular-list caches, batch size, BLAS threads."""
from .env import env_float, env_int

# Most recent events per shopper used for fold-in and explanations (keeps long histories fast).
SERVING_HISTORY_LIMIT = env_int("CURIO_HISTORY_LIMIT", 500)
# Per-process cache of item titles/urls/prices (availability is always checked fresh).
SERVING_ITEM_CACHE_SECONDS = env_float("CURIO_ITEM_CACHE_SECONDS", 300.0)
SERVING_ITEM_CACHE_SIZE = env_int("CURIO_ITEM_CACHE_SIZE", 100_000)
# Popular lists: time-decayed counts over this window, recomputed at most this often.
SERVING_POPULAR_WINDOW_DAYS = env_int("CURIO_POPULAR_WINDOW_DAYS", 30)
SERVING_POPULAR_CACHE_SECONDS = env_float("CURIO_POPULAR_CACHE_SECONDS", 300.0)
SERVING_BATCH_LIMIT = env_int("CURIO_BATCH_LIMIT", 1000)
# BLAS/implicit threads per web process: requests are the parallelism, not matrix ops.
SERVING_NUM_THREADS = env_int("CURIO_SERVING_NUM_THREADS", 1)
