"""URLs under /api/v1/curation/."""
urlpatterns: list = []
