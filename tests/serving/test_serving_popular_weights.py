"""Popular lists weigh event types as training does (TRAINING_EVENT_WEIGHTS / CURIO_WEIGHT_*)."""
from __future__ import annotations

import pytest

from recsys.serving.popular import popular_items
from tests.factories import event, items
from tests.serving_world import reset_serving_caches


@pytest.mark.django_db
@pytest.mark.parametrize("purchase_weight, first", [(8.0, "bought"), (0.5, "viewed")])
def test_popular_ranking_uses_the_training_type_weights(settings, purchase_weight, first):
    items("viewed", "bought")
    for user in ("u1", "u2", "u3"):
        event(user, "viewed", "view")
    event("u4", "bought", "purchase")
    settings.TRAINING_EVENT_WEIGHTS = {**settings.TRAINING_EVENT_WEIGHTS, "purchase": purchase_weight}
    reset_serving_caches()
    try:
        ranked = [item_id for item_id, _ in popular_items(n=2)]
        assert ranked[0] == first and set(ranked) == {"viewed", "bought"}  # 3 views vs 1 purchase
    finally:
        reset_serving_caches()
