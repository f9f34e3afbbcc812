"""Settings for the test suite (pytest: pyproject.toml): the production settings, config.settings, with the test
run's own values. Production settings know nothing of tests.

Set in the environment before the settings load, so the servers and workers tests start (with
DJANGO_SETTINGS_MODULE=config.settings) inherit them; a value exported by hand still wins where it says "unless":
- DEBUG=1 unless set, and the suite's own SECRET_KEY (never a developer's var/secret_key or exported key);
- no REDIS_URL: tests never inherit a developer's Redis by accident (Redis tests use CURIO_TEST_REDIS_URL);
- MODEL_DIR: a fresh temporary folder per test run (CURIO_TEST_MODEL_DIR), never a developer's models;
- CURIO_CONTROL_SHARE=0 unless set: other features' tests never meet a random control shopper;
- CURIO_IMPRESSION_BACKGROUND_FLUSH=0 unless set: impressions stay buffered until a test calls flush() (no stray
  writes);
- CURIO_TRAINING_SEARCH_FITS=6 unless set: every training searches, with a small budget counted in work (the same
  trials on a loaded CI machine as on a quiet laptop).
Set below the import, for this process only: static files without the manifest (Django's test runner turns DEBUG
off, and the suite runs no collectstatic), and SQLite's test database as a file per test process.
"""
import atexit
import os
import shutil
import tempfile

os.environ.setdefault("DEBUG", "1")
os.environ["SECRET_KEY"] = "curio-test-suite-key-" + "k" * 40
os.environ.pop("REDIS_URL", None)
if not os.environ.get("CURIO_TEST_MODEL_DIR"):
    os.environ["CURIO_TEST_MODEL_DIR"] = tempfile.mkdtemp(prefix="curio-test-models-")
    atexit.register(shutil.rmtree, os.environ["CURIO_TEST_MODEL_DIR"], ignore_errors=True)
os.environ["MODEL_DIR"] = os.environ["CURIO_TEST_MODEL_DIR"]
if not os.environ.get("CURIO_CONTROL_SHARE", "").strip():  # blank reads as unset
    os.environ["CURIO_CONTROL_SHARE"] = "0"
os.environ.setdefault("CURIO_IMPRESSION_BACKGROUND_FLUSH", "0")
os.environ.setdefault("CURIO_TRAINING_SEARCH_FITS", "6")

from config.settings import *  # noqa: E402, F403
from config.settings import DATABASES, STORAGES, VAR_DIR  # noqa: E402

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so servers and workers started by tests in other processes see it; one per test
    # process so parallel runs don't collide.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
