"""Analytics (docs/privacy-and-impact.md): the impressions buffer and its flushing, the randomized control share."""
from .env import env_bool, env_float, env_int

# Impressions are buffered in-process and written in bulk (through Redis + a Celery task
# when REDIS_URL is set); a full buffer drops new impressions rather than slow serving.
IMPRESSIONS_ENABLED = env_bool("CURIO_IMPRESSIONS", True)
IMPRESSION_FLUSH_SIZE = env_int("CURIO_IMPRESSION_FLUSH_SIZE", 1000)
IMPRESSION_FLUSH_SECONDS = env_float("CURIO_IMPRESSION_FLUSH_SECONDS", 2.0)
IMPRESSION_BUFFER_MAX = env_int("CURIO_IMPRESSION_BUFFER_MAX", 200_000)
# The Redis list of pushed batches (each up to 5 x IMPRESSION_FLUSH_SIZE rows) holds at most this many;
# beyond it new batches are dropped and counted (no worker is writing them to the database).
IMPRESSION_REDIS_MAX_BATCHES = env_int("CURIO_IMPRESSION_REDIS_MAX_BATCHES", 2000)
# A background thread per process flushes the buffer; off, rows stay buffered until flush() is called
# (the test settings turn it off: no stray writes).
IMPRESSION_BACKGROUND_FLUSH = env_bool("CURIO_IMPRESSION_BACKGROUND_FLUSH", True)
# Share of shoppers (per day, stable hash) served without curation as a randomized control
# (the test settings make it 0, so other features' tests never meet a random control shopper).
CONTROL_SHARE = env_float("CURIO_CONTROL_SHARE", 0.05)
