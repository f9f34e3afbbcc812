"""URLs under /api/v1/ for the recsys app. Each domain keeps its views in its own `api.py`."""
from django.urls import path

from recsys.feedback import api as feedback
from recsys.ingest import api as ingest
from recsys.privacy import api as privacy
from recsys.serving import api as lists
from recsys.suggestions import api as suggestions
from recsys.training import api as training

urlpatterns = [
    # ingest: the catalog and events, in batches (recsys/ingest/api.py)
    path("items/", ingest.ItemBatchView.as_view(), name="items"),
    path("items/<str:item_id>/", ingest.ItemDetailView.as_view(), name="item-detail"),
    path("events/", ingest.EventBatchView.as_view(), name="events"),
    # privacy: a shopper's consent, export and erasure, and merging a session into a shopper (recsys/privacy/api.py)
    path("users/<str:user_id>/merge/", privacy.MergeView.as_view(), name="shopper-merge"),
    path("users/<str:user_id>/", privacy.ShopperView.as_view(), name="shopper"),
    path("users/<str:user_id>/data/", privacy.ShopperDataView.as_view(), name="shopper-data"),
    # feedback: not interested, report (recsys/feedback/api.py)
    path("users/<str:user_id>/feedback/", feedback.FeedbackView.as_view(), name="shopper-feedback"),
    # serving: recommendation lists (recsys/serving/api.py)
    path("users/<str:user_id>/recommendations/", lists.PersonalListView.as_view(), name="recommendations"),
    path("items/<str:item_id>/similar/", lists.SimilarListView.as_view(), name="item-similar"),
    path("recommendations/basket/", lists.BasketListView.as_view(), name="recommendations-basket"),
    path("recommendations/batch/", lists.BatchListView.as_view(), name="recommendations-batch"),
    path("popular/", lists.PopularListView.as_view(), name="popular"),
    # training: runs and model versions (recsys/training/api.py)
    path("training-runs/", training.TrainingRunListView.as_view(), name="training-runs"),
    path("training-runs/<int:run_id>/", training.TrainingRunDetailView.as_view(), name="training-run"),
    path("model-versions/", training.ModelVersionListView.as_view(), name="model-versions"),
    path("model-versions/<int:version_id>/activate/", training.ModelVersionActivateView.as_view(),
         name="model-version-activate"),
    # suggestions: the merchandisers' inbox (recsys/suggestions/api.py)
    path("suggestions/", suggestions.SuggestionListView.as_view(), name="suggestions"),
    path("suggestions/<int:suggestion_id>/accept/", suggestions.SuggestionAcceptView.as_view(),
         name="suggestion-accept"),
    path("suggestions/<int:suggestion_id>/dismiss/", suggestions.SuggestionDismissView.as_view(),
         name="suggestion-dismiss"),
    path("suggestions/<int:suggestion_id>/snooze/", suggestions.SuggestionSnoozeView.as_view(),
         name="suggestion-snooze"),
]
