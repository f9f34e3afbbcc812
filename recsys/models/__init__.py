"""Every model of the `recsys` app, defined in its domain package and gathered here.

Django finds an app's models in `<app>.models`; importing them here keeps the `recsys` label, the
table names and the migrations where they always were. Code inside a domain imports its models from
the domain (`recsys.catalog.models`); other code may import them from here.
"""
from recsys.analytics.models import Impression, RuleImpression
from recsys.catalog.models import CatalogStamp, ErasureReceipt, Event, EventType, Item, Shopper, ShopperAlias
from recsys.clients.models import ApiClient
from recsys.feedback.models import Feedback, FeedbackType, ReviewDecision
from recsys.suggestions.models import Suggestion
from recsys.training.models import ModelStamp, ModelVersion, TrainingRun

__all__ = ["ApiClient", "CatalogStamp", "ErasureReceipt", "Event", "EventType", "Feedback", "FeedbackType",
           "Impression", "Item", "ModelStamp", "ModelVersion", "ReviewDecision", "RuleImpression", "Shopper",
           "ShopperAlias", "Suggestion", "TrainingRun"]
