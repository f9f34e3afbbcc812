"""Django admin for recsys, one module per area (catalog, clients, training, ...)."""
from . import (  # noqa: F401
    catalog,
    clients,
    training,
    trust,  # noqa: F401
)
