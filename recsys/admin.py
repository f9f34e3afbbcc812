"""Django admin for recsys: each domain registers its own pages (Django imports this module by name)."""
from django.contrib import admin

from recsys.analytics import admin as analytics_admin  # noqa: F401
from recsys.catalog import admin as catalog_admin  # noqa: F401
from recsys.clients import admin as clients_admin  # noqa: F401
from recsys.feedback import admin as feedback_admin  # noqa: F401
from recsys.privacy import admin as privacy_admin  # noqa: F401
from recsys.suggestions import admin as suggestions_admin  # noqa: F401
from recsys.training import admin as training_admin  # noqa: F401

# The admin is Curio's: its name in every page title and header (Django's default says "Django administration").
admin.site.site_header = admin.site.site_title = "Curio"
admin.site.index_title = "Merchandising and operations"
