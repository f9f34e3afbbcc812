"""Django admin for recsys, one module per area (catalog, clients, training, ...)."""
from . import catalog, clients, training, trust  # noqa: F401
