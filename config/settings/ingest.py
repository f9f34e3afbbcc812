"""Ingestion: batch sizes of the items and events endpoints, unknown items, the clock-skew allowance."""
from .env import env_bool, env_int

EVENT_BATCH_LIMIT = env_int("CURIO_EVENT_BATCH_LIMIT", 10_000)
ITEM_BATCH_LIMIT = env_int("CURIO_ITEM_BATCH_LIMIT", 10_000)
# Unknown items in events are a per-row error unless this is on.
AUTO_CREATE_ITEMS = env_bool("CURIO_AUTO_CREATE_ITEMS", False)
# Events timestamped further ahead than this are refused (clock skew allowance).
EVENT_MAX_FUTURE_SECONDS = env_int("CURIO_EVENT_MAX_FUTURE_SECONDS", 300)
