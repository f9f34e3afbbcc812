"""Django admin for recsys, one module per area (catalog, clients, training, ...)."""
from . import catalog, clients, training  # noqa: F401
from . import trust  # noqa: F401
