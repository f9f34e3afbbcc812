"""Settings for the test suite: the real settings, with test-run defaults for the environment.

Tests never inherit a developer's Redis by accident: Redis tests use CURIO_TEST_REDIS_URL.
"""
import os

os.environ.setdefault("DEBUG", "1")
os.environ["CURIO_TESTING"] = "1"
os.environ.pop("REDIS_URL", None)

from .settings import *  # noqa: E402, F403
