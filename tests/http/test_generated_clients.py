"""Clients generated from the live schema, as frontend and backend teams make them (docs/api.md, "Generate a client").

Each run fetches /api/schema/ from a served instance, generates a client with a well-known generator nobody on
this project wrote, and drives the whole scenario through its types against that instance:

- TypeScript: openapi-typescript + openapi-fetch (versions pinned in tests/http/clients/package.json and its
  lock; Node and npm from Debian's `nodejs`/`npm`), `tsc --noEmit --strict` on tests/http/clients/scenario.ts
  (no `any`, no casts), then the compiled scenario runs under node and asserts the answers. npm packages are
  cached in var/npm-cache and installed in var/clients-ts (both ignored), so a rerun installs nothing.
- Python: openapi-python-client (requirements.txt) generates with no warnings; tests/http/clients/scenario.py
  runs the same scenario through its typed models.

Without node/npm or the generator these skip with the reason; under CI=true they fail instead.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import _unavailable
from tests.processes import ROOT

pytestmark = [pytest.mark.clients, pytest.mark.slow]

CLIENTS = Path(__file__).parent / "clients"
TS_DIR = ROOT / "var" / "clients-ts"  # node_modules and the compiled scenario (ignored: /var/)
NPM_CACHE = ROOT / "var" / "npm-cache"
# A type escape hatch or a cast anywhere in the scenario defeats the point: `any`, `as T`, `<T>x`, `x!`.
ESCAPES = re.compile(r"\bany\b|\bas\s+(?!const\b)[A-Za-z{(\[]|(?<![\w$])<[A-Z]\w*>\s*[\w(]|[\w)\]]!(?!=)")


def _run(command: list[str], *, cwd: Path, timeout: float = 300, env: dict | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command[:3])} ... exited {done.returncode}:\n{output[-6000:]}"
    return output


def _schema(base: str) -> bytes:
    with urllib.request.urlopen(f"{base}/api/schema/?format=json", timeout=30) as response:
        return response.read()


def _scenario_args(served, token: str, prefix: str) -> list[str]:
    return [served.base, token, served.user_id, served.item_id, prefix]


def _write_token(name: str) -> str:
    from recsys.clients.services import api_client_create

    return api_client_create(name=name, scope="write")[1]  # a client of its own: the training rate is per client


def _npm_installed() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable("needs node and npm (Debian: apt-get install nodejs npm; .ci/run installs them)")
    TS_DIR.mkdir(parents=True, exist_ok=True)
    lock = (CLIENTS / "package-lock.json").read_text()
    stamp = TS_DIR / "node_modules" / ".curio-lock"
    if not stamp.exists() or stamp.read_text() != lock:  # install once per lock file; reruns reuse node_modules
        for name in ("package.json", "package-lock.json"):
            shutil.copy(CLIENTS / name, TS_DIR / name)
        _run([npm, "ci", "--cache", str(NPM_CACHE), "--prefer-offline", "--no-audit", "--no-fund"], cwd=TS_DIR)
        stamp.write_text(lock)
    return node, npm


def test_scenario_has_no_type_escape_hatches():
    source = (CLIENTS / "scenario.ts").read_text()
    code = "\n".join(line.split("//", 1)[0] for line in source.splitlines())  # comments may say "any"
    assert not ESCAPES.findall(code), ESCAPES.findall(code)


def test_typescript_client_runs_the_scenario(served_instance):
    node, _ = _npm_installed()
    src = TS_DIR / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(TS_DIR / "out", ignore_errors=True)
    src.mkdir()
    (src / "schema.json").write_bytes(_schema(served_instance.base))
    bin_ = TS_DIR / "node_modules"
    _run([node, str(bin_ / "openapi-typescript" / "bin" / "cli.js"), "src/schema.json", "-o", "src/curio.d.ts"],
         cwd=TS_DIR)
    shutil.copy(CLIENTS / "scenario.ts", src / "scenario.ts")
    shutil.copy(CLIENTS / "tsconfig.json", TS_DIR / "tsconfig.json")  # strict, noUncheckedIndexedAccess
    tsc = str(bin_ / "typescript" / "bin" / "tsc")
    _run([node, tsc, "-p", "tsconfig.json", "--noEmit", "--strict"], cwd=TS_DIR)
    _run([node, tsc, "-p", "tsconfig.json"], cwd=TS_DIR)
    token = _write_token("typescript-client")
    output = _run([node, "out/scenario.js", *_scenario_args(served_instance, token, f"ts-{uuid.uuid4().hex[:8]}")],
                  cwd=TS_DIR, timeout=240)
    assert "typescript scenario: ok" in output, output


def test_python_client_generates_without_warnings_and_runs_the_scenario(served_instance, tmp_path):
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    if generator is None:
        _unavailable("needs openapi-python-client (pip install -r requirements.txt)")
    (tmp_path / "schema.json").write_bytes(_schema(served_instance.base))
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    output = _run([generator, "generate", "--path", "schema.json", "--output-path", "curio_client", "--meta", "none"],
                  cwd=tmp_path, env=env)  # its own `ruff` post-hooks run from the virtualenv
    assert "warning" not in output.lower(), output
    assert json.loads((tmp_path / "schema.json").read_text())["components"]["schemas"]["ListItem"]
    shutil.copy(CLIENTS / "scenario.py", tmp_path / "scenario.py")
    token = _write_token("python-client")
    args = _scenario_args(served_instance, token, f"py-{uuid.uuid4().hex[:8]}")
    output = _run([sys.executable, "scenario.py", *args], cwd=tmp_path, timeout=240)  # imports `curio_client` there
    assert "python scenario: ok" in output, output
