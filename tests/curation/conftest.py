"""Fixtures the curation tests share."""
from __future__ import annotations

import pytest

from tests.serving_world import build_shop, reset_serving_caches


@pytest.fixture
def small_shop(db, tmp_path, settings):
    """A tiny shop (3 categories of 10 items, 4 shoppers each), fresh serving caches, no model yet."""
    settings.MODEL_DIR = tmp_path / "models"
    reset_serving_caches()
    build_shop(shoppers_per_category=4)
    yield
    reset_serving_caches()
