"""Recsys data: catalog, shoppers and events, API clients, training runs and model versions.

One module per area so each stays small; import models from `recsys.models`.
"""
from .catalog import Item
from .clients import ApiClient
from .events import Event, EventType, Shopper, ShopperAlias
from .training import ModelVersion, TrainingRun
from .trust import ErasureReceipt, Feedback, FeedbackType, Impression, ReviewDecision

__all__ = ["ApiClient", "Event", "EventType", "Item", "ModelVersion", "Shopper", "ShopperAlias", "TrainingRun"]
__all__ += ["ErasureReceipt", "Feedback", "FeedbackType", "Impression", "ReviewDecision"]
