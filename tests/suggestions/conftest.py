import pytest
from django.utils import timezone

from tests.serving_world import build_shop, reset_serving_caches


@pytest.fixture
def shop(db, tmp_path, settings):
    """The small serving shop, with fresh per-process serving caches (popular lists, cards, rules) and no model:
    an earlier test's popular list must not decide which items these lists hold."""
    settings.MODEL_DIR = tmp_path / "models"
    reset_serving_caches()
    build_shop(shoppers_per_category=2)
    yield timezone.now()
    reset_serving_caches()
