"""Privacy (docs/privacy-and-impact.md): event retention and the erasure's lock wait."""
from .env import env_float, env_int

# Events older than this are purged by the scheduled retention task; 0 keeps them forever.
EVENT_RETENTION_DAYS = env_int("CURIO_EVENT_RETENTION_DAYS", 730)
RETENTION_BATCH_SIZE = env_int("CURIO_RETENTION_BATCH_SIZE", 5000)
# An erasure waits at most this long for another erasure's lock on a model version; past it the DELETE
# answers 503 and the erasure stays pending (a retried DELETE or the periodic task finishes it).
ERASURE_LOCK_TIMEOUT = env_float("CURIO_ERASURE_LOCK_TIMEOUT", 20.0)
