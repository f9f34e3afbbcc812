"""URLs under /api/v1/ for the recsys app. Each area keeps its views in recsys/api/."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
