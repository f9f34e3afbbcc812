"""Browser-test fixtures: a real server in another process and headless Debian Chromium via Playwright.

- `live_server_url`: `manage.py runserver --noreload` on a free port against the test database
  (`transactional_db`, so rows the test writes are committed and visible to the server); waits for
  /healthz; always killed at teardown. The server's log goes to test-artifacts/.
- `page`: a fresh Playwright page (own context) in a session-wide Chromium at /usr/bin/chromium.
  Nothing is downloaded: `playwright install` is never used. On a failed test a screenshot is saved.
- `artifacts_dir`: test-artifacts/ (gitignored) for screenshots.

All browser tests carry the `browser` marker. Without Chromium they skip (fail when CI=true).
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 30.0


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so `page` can screenshot failures at teardown.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def database_url(settings_dict: dict) -> str:
    """DATABASE_URL for the connection the tests use (the test database, not the dev one)."""
    engine, name = settings_dict["ENGINE"], settings_dict["NAME"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{Path(name).resolve()}"
    if "postgresql" in engine:
        user = quote(settings_dict.get("USER") or "", safe="")
        password = settings_dict.get("PASSWORD") or ""
        auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}{host}:{port}/{name}"
    raise RuntimeError(f"no DATABASE_URL form for {engine}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} within {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def server_env(transactional_db, tmp_path) -> dict[str, str]:
    """Environment for a server process on the test database (tests may add settings before starting it).

    MODEL_DIR is a fresh folder, so the server never serves a developer's models; a test that trains
    in-process and wants them served sets `settings.MODEL_DIR = server_env["MODEL_DIR"]` first.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        DATABASE_URL=database_url(connection.settings_dict),
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
        MODEL_DIR=str(tmp_path / "models"),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def live_server_url(server_env, request) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log = ARTIFACTS / f"server-{re.sub(r'[^A-Za-z0-9_.-]', '_', request.node.name)}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT, env=server_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/healthz", proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        reason = f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium chromium-driver)"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on this thread; Django would then refuse ORM calls
    # from the test ("async context"). The tests are synchronous, so the check is lifted for them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page(browser, artifacts_dir, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
        try:
            page.screenshot(path=str(artifacts_dir / f"FAILED-{name}.png"), full_page=True)
        except Exception:  # noqa: BLE001 - a failing page must not hide the test's own error
            pass
    context.close()
