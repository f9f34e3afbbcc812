"""URLs under /api/v1/ for the recsys app. Each domain keeps its views in its own `api.py`."""
from django.urls import path  # noqa: F401

from recsys.ingest import api as ingest

urlpatterns: list = [
    path("items/", ingest.ItemBatchView.as_view(), name="items"),
    path("items/<str:item_id>/", ingest.ItemDetailView.as_view(), name="item-detail"),
    path("events/", ingest.EventBatchView.as_view(), name="events"),
]

# --- trust: shoppers' data and feedback (recsys/privacy/api.py) ---
from recsys.privacy import api as shoppers  # noqa: E402

urlpatterns += [
    path("users/<str:user_id>/", shoppers.ShopperView.as_view(), name="shopper"),
    path("users/<str:user_id>/data/", shoppers.ShopperDataView.as_view(), name="shopper-data"),
    path("users/<str:user_id>/feedback/", shoppers.FeedbackView.as_view(), name="shopper-feedback"),
]

# --- serving: recommendation lists and shopper merge (recsys/serving/api.py) ---
from recsys.serving import api as lists  # noqa: E402

urlpatterns += [
    path("users/<str:user_id>/recommendations/", lists.PersonalListView.as_view(), name="recommendations"),
    path("users/<str:user_id>/merge/", lists.MergeView.as_view(), name="shopper-merge"),
    path("items/<str:item_id>/similar/", lists.SimilarListView.as_view(), name="item-similar"),
    path("recommendations/basket/", lists.BasketListView.as_view(), name="recommendations-basket"),
    path("recommendations/batch/", lists.BatchListView.as_view(), name="recommendations-batch"),
    path("popular/", lists.PopularListView.as_view(), name="popular"),
]

# --- training: runs and model versions (recsys/training/api.py) ---
from recsys.training import api as training  # noqa: E402

urlpatterns += [
    path("training-runs/", training.TrainingRunListView.as_view(), name="training-runs"),
    path("training-runs/<int:run_id>/", training.TrainingRunDetailView.as_view(), name="training-run"),
    path("model-versions/", training.ModelVersionListView.as_view(), name="model-versions"),
    path("model-versions/<int:version_id>/activate/", training.ModelVersionActivateView.as_view(),
         name="model-version-activate"),
]
