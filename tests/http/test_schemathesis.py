"""Schemathesis against a served instance: the OpenAPI schema tells the truth (docs/api.md, "Schema check").

A real server process (`manage.py runserver`, DEBUG off) on the test database with a trained, active model
and a write-scope token (tests/http/conftest.py); the schemathesis CLI runs every phase (examples, coverage,
fuzzing, stateful) and every check against the schema the server serves, with two seeds, and must find nothing:
no 5xx, every status code, header, content type and body as documented, schema-violating input refused,
schema-valid input taken (tests/http/schemathesis.toml lists the operations that may also refuse it with a 400:
what only the server knows, such as the catalog), deleted rules gone, created ones there.

Without the schemathesis CLI (requirements.txt pins it) this skips; under CI=true it fails instead.
`CURIO_TEST_SCHEMATHESIS_MAX_TIME` (seconds per seed; CI runs 150 for each of the two seeds) shortens or
lengthens the run.
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
from tests.http.conftest import ARTIFACTS

CONFIG = Path(__file__).parent / "schemathesis.toml"
MAX_EXAMPLES = 40
MAX_TIME = int(os.environ.get("CURIO_TEST_SCHEMATHESIS_MAX_TIME") or 150)
SEEDS = (7, 20261206)


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        reason = "needs the schemathesis CLI (pip install -r requirements.txt: schemathesis==4.32.5)"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return found


@pytest.mark.parametrize("seed", SEEDS)
def test_schemathesis_finds_nothing(served_instance, tmp_path, seed):
    cli = _schemathesis()
    base, token = served_instance.base, served_instance.token
    command = [cli, "--config-file", str(CONFIG), "run", f"{base}/api/schema/?format=json", "--url", base,
               "-H", f"Authorization: Bearer {token}", "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
               "--max-time", str(MAX_TIME), "--seed", str(seed)]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=MAX_TIME * 3 + 120)
    output = run.stdout + run.stderr
    (ARTIFACTS / f"schemathesis-{seed}.txt").write_text(output.replace(token, "<write token>"))
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    print(summary.replace(token, "<write token>"))
    assert run.returncode == 0, output[-20000:].replace(token, "<write token>")
    assert re.search(r"Tested: +\d+", summary), summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):  # every phase ran and passed
        assert re.search(rf"✅ +{phase}", summary), f"{phase} did not pass:\n{summary}"
