"""Browser-test fixtures: a real server in another process and headless Debian Chromium via Playwright.

- `live_server_url`: `manage.py runserver --noreload` on a free port against the test database
  (`transactional_db`, so rows the test writes are committed and visible to the server); waits for
  /healthz; always killed at teardown. The server's log goes to test-artifacts/.
- `page`: a fresh Playwright page (own context) in a session-wide Chromium at /usr/bin/chromium.
  Nothing is downloaded: `playwright install` is never used. On a failed test a screenshot is saved.
- `artifacts_dir`: test-artifacts/ (gitignored) for screenshots.
- `csp_violations`: every Content-Security-Policy violation the page reported (the `securitypolicyviolation`
  event and Chromium's console line); a browser test that passes with one there fails at teardown, so every
  page any browser test visits is checked against the CSP (config/settings/security.py CONTENT_SECURITY_POLICY).

All browser tests carry the `browser` marker. Without Chromium they skip (fail when CI=true).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.processes import database_url, free_port, stop, wait_for_http

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
# Runs before any page script (Playwright injects it outside the page's CSP) in every document of a context.
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.effectiveDirective} refused ${e.blockedURI || "an inline"} `
                + `at ${e.sourceFile || document.URL}:${e.lineNumber} ${e.sample || ""}`);
});"""


def is_csp_violation(text: str) -> bool:
    return text.startswith("CSP violation:") or "Content Security Policy" in text


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


@pytest.fixture
def server_env(transactional_db, tmp_path) -> dict[str, str]:
    """Environment for a server process on the test database (tests may add settings before starting it).

    MODEL_DIR is a fresh folder, so the server never serves a developer's models; a test that trains
    in-process and wants them served sets `settings.MODEL_DIR = server_env["MODEL_DIR"]` first.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        DATABASE_URL=database_url(),
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
        wait_for_http(f"{url}/healthz", proc, log, START_TIMEOUT)
        yield url
    finally:
        stop(proc)


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
def csp_violations() -> list[str]:
    return []


@pytest.fixture
def page(browser, artifacts_dir, request, csp_violations):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)
    context.on("console", lambda message: csp_violations.append(f"{message.page.url if message.page else '?'}: "
                                                                f"{message.text}")
               if is_csp_violation(message.text) else None)
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
    if report is not None and report.passed and csp_violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(csp_violations), pytrace=False)
