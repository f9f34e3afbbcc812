"""Schemathesis against a served instance: the OpenAPI schema tells the truth (docs/api.md, "Schema check").

A real server process (`manage.py runserver`, DEBUG off) on the test database with a trained, active model
and a write-scope token; the schemathesis CLI runs every phase (examples, coverage, fuzzing, stateful)
against the schema the server serves, with the checks below, and must find nothing: no 5xx, every status
code, content type and body as documented, and schema-violating input refused.

Without the schemathesis CLI (requirements.txt pins it) this skips; under CI=true it fails instead.
`CURIO_TEST_SCHEMATHESIS_MAX_TIME` shortens the run when iterating locally (CI runs the full 300 s).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.processes import ROOT, database_url, free_port, stop, wait_for_http
from tests.serving_world import build_shop, reset_serving_caches, train_and_activate

CHECKS = ("not_a_server_error,response_schema_conformance,content_type_conformance,"
          "status_code_conformance,negative_data_rejection")
MAX_EXAMPLES = 40
MAX_TIME = int(os.environ.get("CURIO_TEST_SCHEMATHESIS_MAX_TIME") or 300)
SEED = 7
ARTIFACTS = ROOT / "test-artifacts"


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        reason = "needs the schemathesis CLI (pip install -r requirements.txt: schemathesis==4.32.5)"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return found


@pytest.fixture
def served_instance(transactional_db, tmp_path, settings):
    """(base URL, write token) of a server with a trained model, on the test database."""
    from recsys.clients.services import api_client_create

    build_shop()
    train_and_activate(tmp_path / "models")
    reset_serving_caches()
    _, token = api_client_create(name="schemathesis", scope="write")
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG"}}
    env.update(DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="config.settings", DEBUG="0",
               SECRET_KEY="schemathesis-" + "x" * 40, ALLOWED_HOSTS="127.0.0.1",
               MODEL_DIR=str(tmp_path / "models"), PYTHONUNBUFFERED="1")
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "server-schemathesis.log"
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", proc, log)
        yield base, token
    finally:
        stop(proc)


def test_schemathesis_finds_nothing(served_instance, tmp_path):
    cli = _schemathesis()
    base, token = served_instance
    command = [cli, "run", f"{base}/api/schema/?format=json", "--url", base, "-H", f"Authorization: Token {token}",
               "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_TIME),
               "--seed", str(SEED)]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=MAX_TIME * 3 + 120)
    output = run.stdout + run.stderr
    (ARTIFACTS / "schemathesis.txt").write_text(output)
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    print(summary.replace(token, "<write token>"))
    assert run.returncode == 0, output[-20000:].replace(token, "<write token>")
    assert re.search(r"Tested: +\d+", summary), summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):  # every phase ran and passed
        assert re.search(rf"✅ +{phase}", summary), f"{phase} did not pass:\n{summary}"
