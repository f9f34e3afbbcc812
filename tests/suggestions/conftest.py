import pytest
from django.utils import timezone

from tests.serving_world import build_shop


@pytest.fixture
def shop(db):
    build_shop(shoppers_per_category=2)
    return timezone.now()
