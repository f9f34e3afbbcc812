"""Production switches: `check --deploy` is clean with the TLS variables set (nothing silenced),
and with DEBUG off and no TLS variables the service still answers over plain HTTP on 127.0.0.1."""
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
TLS_ENV = {"SECURE_SSL_REDIRECT": "1", "SECURE_HSTS_SECONDS": "31536000", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
           "SECURE_HSTS_PRELOAD": "1", "SESSION_COOKIE_SECURE": "1", "CSRF_COOKIE_SECURE": "1"}


def production_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DJANGO_", "CURIO_"))}
    env.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), DATABASE_URL=f"sqlite:///{tmp_path}/deploy.sqlite3",
               ALLOWED_HOSTS="127.0.0.1,localhost", SECRET_KEY_FILE=str(tmp_path / "no-secret-key-file"))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(extra)
    return env


def manage(env, *args, check=True):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=check)


def test_check_deploy_is_clean_with_the_tls_variables(tmp_path):
    result = manage(production_env(tmp_path, **TLS_ENV), "check", "--deploy", "--fail-level", "WARNING", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 silenced" in result.stdout + result.stderr


def test_check_deploy_names_the_tls_switches_when_they_are_off(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", check=False)
    output = result.stdout + result.stderr
    for check_id in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check_id in output


def test_debug_off_requires_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    env.pop("SECRET_KEY")
    result = manage(env, "check", check=False)
    assert result.returncode != 0 and "SECRET_KEY is required" in result.stderr


def test_makemigrations_check_needs_no_secret_key(tmp_path):
    env = production_env(tmp_path)
    env.pop("SECRET_KEY")
    result = manage(env, "makemigrations", "--check", "--dry-run", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


@pytest.mark.slow
def test_debug_off_serves_plain_http_on_localhost(tmp_path):
    env = production_env(tmp_path)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}",
                               "-w", "1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                health = urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not answer: " + server.stderr.read1().decode())
        assert health.status == 200 and health.url == f"{base}/healthz"  # no redirect to https
        docs = urllib.request.urlopen(f"{base}/api/docs/", timeout=5).read().decode()
        asset = docs.split('src="', 1)[1].split('"', 1)[0]  # Swagger UI's own script, served locally
        assert asset.startswith("/static/")
        assert urllib.request.urlopen(base + asset, timeout=5).status == 200
    finally:
        stop(server)
