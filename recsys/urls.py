"""URLs under /api/v1/ for the recsys app. Each area keeps its views in recsys/api/."""
from django.urls import path  # noqa: F401

from recsys.api import ingest

urlpatterns: list = [
    path("items/", ingest.ItemBatchView.as_view(), name="items"),
    path("items/<str:item_id>/", ingest.ItemDetailView.as_view(), name="item-detail"),
    path("events/", ingest.EventBatchView.as_view(), name="events"),
]

# --- trust: shoppers' data and feedback (recsys/api/shoppers.py) ---
from recsys.api import shoppers  # noqa: E402

urlpatterns += [
    path("users/<str:user_id>/", shoppers.ShopperView.as_view(), name="shopper"),
    path("users/<str:user_id>/data/", shoppers.ShopperDataView.as_view(), name="shopper-data"),
    path("users/<str:user_id>/feedback/", shoppers.FeedbackView.as_view(), name="shopper-feedback"),
]
