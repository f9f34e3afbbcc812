"""Training: the model folder, event weights, the candidates and search, the promotion gate, where runs execute."""
import json
import os
from pathlib import Path

from .base import VAR_DIR
from .database import REDIS_URL
from .env import env_bool, env_float, env_int

# Where trained versions live (ACTIVE names the served one); serving reads it too.
MODEL_DIR = Path(os.environ.get("MODEL_DIR") or VAR_DIR / "models")

# Confidence per event type; a rating counts only at or above the threshold. One entry per type of the event
# vocabulary (recsys/ml/events.py), each defaulting to its row's weight (tests/ops/test_settings_package.py
# keeps the two in step).
TRAINING_EVENT_WEIGHTS = {
    "view": env_float("CURIO_WEIGHT_VIEW", 1.0),
    "click": env_float("CURIO_WEIGHT_CLICK", 2.0),
    "add_to_cart": env_float("CURIO_WEIGHT_ADD_TO_CART", 4.0),
    "purchase": env_float("CURIO_WEIGHT_PURCHASE", 8.0),
    "rating": env_float("CURIO_WEIGHT_RATING", 4.0),
}
TRAINING_RATING_THRESHOLD = env_float("CURIO_RATING_THRESHOLD", 4.0)
# An event this many days old counts half (0: no decay); events older than the window are left out
# (0: no window). A shop's last year is the normal input, so both default to well over a year.
TRAINING_HALF_LIFE_DAYS = env_float("CURIO_TRAINING_HALF_LIFE_DAYS", 365.0)
TRAINING_WINDOW_DAYS = env_float("CURIO_TRAINING_WINDOW_DAYS", 730.0)
# Training weight of interactions with pinned/boosted impressions: 1 as any other, 0 leaves them out.
PROMOTED_INTERACTION_WEIGHT = env_float("CURIO_PROMOTED_INTERACTION_WEIGHT", 0.5)
# The search's starting points on every run (JSON list of {"kind": als|bm25|cosine|ease|ease_head|rp3beta|random,
# params}; ease_head: catalogs over CURIO_EASE_MAX_ITEMS, where ease is skipped),
# tried in this order after the last run's best: the strong and cheap ones first (ALS fits cost the most).
# RP3beta twice: its popularity penalty beta is the parameter that matters most, and the bench's shops split
# between 0.4 and 0.2 (docs/benchmarks.md, issue #30); a second ALS point (64 factors, reg 1, alpha 10) was
# dropped: it never came first, and at 1M events it cost a quarter of the selection's budget. ease_head's EASE
# head of 2,000 items scored as well as 5,000 at 1M and 10M events, at a fraction of the n³ (issue #30).
TRAINING_CANDIDATES = json.loads(os.environ.get("CURIO_TRAINING_CANDIDATES") or json.dumps([
    {"kind": "ease", "lambda": 200.0, "K": 200},
    {"kind": "ease_head", "lambda": 500.0, "K": 200, "alpha": 0.8, "beta": 0.2, "items": 2000},
    {"kind": "rp3beta", "alpha": 0.8, "beta": 0.4, "K": 200, "binary": True},
    {"kind": "rp3beta", "alpha": 0.8, "beta": 0.2, "K": 200, "binary": True},
    {"kind": "bm25", "K": 100, "K1": 0.9, "B": 0.4},
    {"kind": "bm25", "K": 50, "K1": 1.2, "B": 0.75},
    {"kind": "als", "factors": 64, "regularization": 0.05, "alpha": 2.0, "iterations": 15},
    {"kind": "cosine", "K": 100},
]))
# Model selection compares candidates on a sample of shoppers bounded in shoppers and interactions (the
# winner is then refit on all data), with fewer ALS iterations, scored on a sample of the evaluation shoppers.
TRAINING_SELECTION_USERS = env_int("CURIO_TRAINING_SELECTION_USERS", 100_000)
TRAINING_SELECTION_INTERACTIONS = env_int("CURIO_TRAINING_SELECTION_INTERACTIONS", 1_000_000)
TRAINING_SELECTION_EVAL_USERS = env_int("CURIO_TRAINING_SELECTION_EVAL_USERS", 3_000)
TRAINING_SELECTION_ITERATIONS = env_int("CURIO_TRAINING_SELECTION_ITERATIONS", 6)
# Candidates are compared on this many user-disjoint folds of the selection shoppers; a sample this many times
# smaller than the interactions bound repeats the folds (fresh partitions) up to REPEATS times.
TRAINING_SELECTION_FOLDS = max(3, env_int("CURIO_TRAINING_SELECTION_FOLDS", 3))
TRAINING_SELECTION_REPEATS = max(1, env_int("CURIO_TRAINING_SELECTION_REPEATS", 3))
# A challenger displaces the incumbent (the last run's winner, else the first starting point) only when its
# paired per-shopper nDCG@10 gain exceeds this many standard errors.
TRAINING_SELECTION_Z = env_float("CURIO_TRAINING_SELECTION_Z", 2.0)
# The search's budget is work, estimated from the data's size and never timed: after the starting points
# (always tried), each kind's space is searched (seeded) while its candidates' fits stay within WORK times one
# fit of implicit's default ALS on the training data, and at least MIN_WORK seconds of the reference machine
# (small shops); and within FITS fold-fits. 0 (either WORK and MIN_WORK, or FITS): the starting points only.
# Same data and seed, same trials and winner on any machine.
TRAINING_SEARCH_WORK = env_float("CURIO_TRAINING_SEARCH_WORK", 0.5)
TRAINING_SEARCH_MIN_WORK = env_float("CURIO_TRAINING_SEARCH_MIN_WORK", 3.0)
TRAINING_SEARCH_FITS = env_int("CURIO_TRAINING_SEARCH_FITS", 60)
# Safety stop only (wall clock): past it no further candidate starts, and the run's metrics say so.
# 0: the starting points only (as TRAINING_SEARCH_FITS=0).
TRAINING_SEARCH_SECONDS = env_float("CURIO_TRAINING_SEARCH_SECONDS", 1800.0)
# EASE is dense in the catalog size (3 n x n float64 arrays, an n^3 inverse per fit): larger
# catalogs skip it (logged). 5,000 items: ~0.6 GB and a few seconds per fit on 2 cores.
TRAINING_EASE_MAX_ITEMS = env_int("CURIO_EASE_MAX_ITEMS", 5_000)
TRAINING_EVAL_USERS = env_int("CURIO_TRAINING_EVAL_USERS", 10_000)
TRAINING_HOLDOUT_FRACTION = env_float("CURIO_TRAINING_HOLDOUT_FRACTION", 0.2)
TRAINING_SEED = env_int("CURIO_TRAINING_SEED", 42)
# ALS refit on all data continues from the holdout fit for this many iterations.
TRAINING_REFIT_ITERATIONS = env_int("CURIO_TRAINING_REFIT_ITERATIONS", 3)
TRAINING_SIMILAR_ITEMS = env_int("CURIO_TRAINING_SIMILAR_ITEMS", 50)
# Promotion gate: nDCG@10 must beat random and popularity (and the active version, if on) by this.
TRAINING_GATE_MARGIN = env_float("CURIO_TRAINING_GATE_MARGIN", 0.05)
TRAINING_GATE_VS_ACTIVE = env_bool("CURIO_TRAINING_GATE_VS_ACTIVE", False)
TRAINING_RETAIN_VERSIONS = env_int("CURIO_TRAINING_RETAIN_VERSIONS", 5)
# Model card: warn when a figure worsens by more than this fraction against the previous version.
MODEL_CARD_WARN_THRESHOLD = env_float("CURIO_MODEL_CARD_WARN_THRESHOLD", 0.10)
TRAINING_NUM_THREADS = env_int("CURIO_TRAINING_NUM_THREADS", os.cpu_count() or 1)
TRAINING_USE_GPU = env_bool("CURIO_TRAINING_USE_GPU", False)
# The running worker writes a heartbeat this often; a run without one for TIMEOUT is "worker lost".
TRAINING_HEARTBEAT_SECONDS = env_float("CURIO_TRAINING_HEARTBEAT_SECONDS", 5.0)
TRAINING_HEARTBEAT_TIMEOUT = env_float("CURIO_TRAINING_HEARTBEAT_TIMEOUT", 120.0)
# A queued run nobody picked up within this many seconds is failed, freeing the lock.
TRAINING_QUEUE_TIMEOUT = env_float("CURIO_TRAINING_QUEUE_TIMEOUT", 3600.0)
TRAINING_TIME_LIMIT = env_int("CURIO_TRAINING_TIME_LIMIT", 4 * 3600)
# Where POST /api/v1/training-runs/ runs training: "celery" (the `training` queue; default with
# REDIS_URL) or "thread" (a background thread of the web process; default without Redis).
TRAINING_EXECUTOR = os.environ.get("CURIO_TRAINING_EXECUTOR") or ("celery" if REDIS_URL else "thread")
# Test hooks: fail with an error at this stage / sleep this long in every stage (keep unset).
TRAINING_FAIL_AT_STAGE = os.environ.get("CURIO_TRAINING_FAIL_AT_STAGE", "")
TRAINING_STAGE_DELAY_SECONDS = env_float("CURIO_TRAINING_STAGE_DELAY_SECONDS", 0.0)
