"""Settings for the test suite: the real settings, with test-run defaults for the environment.

Tests never inherit a developer's Redis by accident: Redis tests use CURIO_TEST_REDIS_URL.
Tests never see a developer's models either: MODEL_DIR is a fresh temporary folder per test run,
handed to the servers and workers the tests start (they inherit CURIO_TEST_MODEL_DIR).
The training search gets a 1-second budget unless CURIO_TRAINING_SEARCH_SECONDS says otherwise.
"""
import atexit
import os
import shutil
import tempfile

os.environ.setdefault("DEBUG", "1")
# The tests' own key (settings have no fallback), inherited by the servers and workers they start; never a
# developer's var/secret_key or exported SECRET_KEY.
os.environ["SECRET_KEY"] = "curio-test-suite-key-" + "k" * 40
os.environ["CURIO_TESTING"] = "1"
os.environ.pop("REDIS_URL", None)
if not os.environ.get("CURIO_TEST_MODEL_DIR"):
    os.environ["CURIO_TEST_MODEL_DIR"] = tempfile.mkdtemp(prefix="curio-test-models-")
    atexit.register(shutil.rmtree, os.environ["CURIO_TEST_MODEL_DIR"], ignore_errors=True)
os.environ["MODEL_DIR"] = os.environ["CURIO_TEST_MODEL_DIR"]
# Every training searches; in tests (and the workers they start) with a small budget.
os.environ.setdefault("CURIO_TRAINING_SEARCH_SECONDS", "1")

from .settings import *  # noqa: E402, F403
