"""New items: the content index (recsys.ml.content), content-based similar lists, and exploration slots in
personal lists (docs/merchandising.md, "New arrivals and exploration")."""
from .env import env_float, env_int, env_list

# Exploration slots per 10 positions of a personal list given to new items (0: no exploration anywhere).
EXPLORATION_SLOTS = env_int("CURIO_EXPLORATION_SLOTS", 1)
# "New": absent from the active model and first ingested at most this many days ago.
EXPLORATION_MAX_AGE_DAYS = env_float("CURIO_EXPLORATION_MAX_AGE_DAYS", 30.0)
# Placements (comma-separated) whose personal lists get no exploration slots, e.g. "email,checkout".
EXPLORATION_OFF_PLACEMENTS = frozenset(env_list("CURIO_EXPLORATION_OFF_PLACEMENTS", ""))
# Similar lists: the content share of the blend is prior / (prior + interactions of the item); an item with fewer
# than CURIO_SIMILAR_MIN_INTERACTIONS interactions gets a content list alone.
SIMILAR_CONTENT_PRIOR = env_float("CURIO_SIMILAR_CONTENT_PRIOR", 20.0)
SIMILAR_MIN_INTERACTIONS = env_int("CURIO_SIMILAR_MIN_INTERACTIONS", 3)
# Content neighbours kept per item in the content index.
CONTENT_NEIGHBOURS = env_int("CURIO_CONTENT_NEIGHBOURS", 50)
