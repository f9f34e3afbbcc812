"""URLs under /api/v1/ for the recsys app. Each domain keeps its views in its own `api.py`."""
from django.urls import path

from recsys.feedback.api import FeedbackView
from recsys.ingest.api import EventBatchView, ItemBatchView, ItemDetailView
from recsys.privacy.api import MergeView, ShopperDataView, ShopperView
from recsys.serving.api import BasketListView, BatchListView, PersonalListView, PopularListView, SimilarListView
from recsys.suggestions.api import SuggestionAcceptView, SuggestionDismissView, SuggestionListView, SuggestionSnoozeView
from recsys.training.api import (
    ModelVersionActivateView,
    ModelVersionListView,
    TrainingRunDetailView,
    TrainingRunListView,
)

urlpatterns = [
    # ingest: the catalog and events, in batches (recsys/ingest/api.py)
    path("items/", ItemBatchView.as_view(), name="items"),
    path("items/<str:item_id>/", ItemDetailView.as_view(), name="item-detail"),
    path("events/", EventBatchView.as_view(), name="events"),
    # privacy: a shopper's consent, export and erasure, and merging a session into a shopper (recsys/privacy/api.py)
    path("users/<str:user_id>/merge/", MergeView.as_view(), name="shopper-merge"),
    path("users/<str:user_id>/", ShopperView.as_view(), name="shopper"),
    path("users/<str:user_id>/data/", ShopperDataView.as_view(), name="shopper-data"),
    # feedback: not interested, report (recsys/feedback/api.py)
    path("users/<str:user_id>/feedback/", FeedbackView.as_view(), name="shopper-feedback"),
    # serving: recommendation lists (recsys/serving/api.py)
    path("users/<str:user_id>/recommendations/", PersonalListView.as_view(), name="recommendations"),
    path("items/<str:item_id>/similar/", SimilarListView.as_view(), name="item-similar"),
    path("recommendations/basket/", BasketListView.as_view(), name="recommendations-basket"),
    path("recommendations/batch/", BatchListView.as_view(), name="recommendations-batch"),
    path("popular/", PopularListView.as_view(), name="popular"),
    # training: runs and model versions (recsys/training/api.py)
    path("training-runs/", TrainingRunListView.as_view(), name="training-runs"),
    path("training-runs/<int:run_id>/", TrainingRunDetailView.as_view(), name="training-run"),
    path("model-versions/", ModelVersionListView.as_view(), name="model-versions"),
    path("model-versions/<int:version_id>/activate/", ModelVersionActivateView.as_view(),
         name="model-version-activate"),
    # suggestions: the merchandisers' inbox (recsys/suggestions/api.py)
    path("suggestions/", SuggestionListView.as_view(), name="suggestions"),
    path("suggestions/<int:suggestion_id>/accept/", SuggestionAcceptView.as_view(),
         name="suggestion-accept"),
    path("suggestions/<int:suggestion_id>/dismiss/", SuggestionDismissView.as_view(),
         name="suggestion-dismiss"),
    path("suggestions/<int:suggestion_id>/snooze/", SuggestionSnoozeView.as_view(),
         name="suggestion-snooze"),
]
