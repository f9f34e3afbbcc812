"""SECRET_KEY has no built-in fallback, DEBUG or not: it comes from the environment, else from SECRET_KEY_FILE
(default var/secret_key, which `make run` writes once with a random key, mode 600), else the settings refuse to
load with ImproperlyConfigured saying how to make one. Each case imports the settings in a fresh process."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def settings_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SECRET_KEY_FILE"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="1", SECRET_KEY_FILE=str(tmp_path / "no-such-file"),
               DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    env.update(extra)
    return env


def run(env, *args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("debug", ["1", "0"])
def test_without_a_key_in_the_environment_or_a_file_the_settings_refuse_to_load(tmp_path, debug):
    result = run(settings_env(tmp_path, DEBUG=debug), "-c", PRINT_KEY)
    assert result.returncode != 0, result.stdout
    assert "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is required" in result.stderr
    assert "make run" in result.stderr and "insecure" not in result.stdout


def test_manage_py_says_it_in_one_line(tmp_path):
    result = run(settings_env(tmp_path), "manage.py", "check")
    assert result.returncode != 0
    assert result.stderr.startswith("Configuration error: SECRET_KEY is required")


def test_the_key_file_is_read_when_the_environment_has_none(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("  from-the-file-" + "f" * 40 + "\n")
    result = run(settings_env(tmp_path, SECRET_KEY_FILE=str(key_file)), "-c", PRINT_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from-the-file-" + "f" * 40


def test_the_environment_wins_over_the_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("from-the-file")
    result = run(settings_env(tmp_path, SECRET_KEY_FILE=str(key_file), SECRET_KEY="from-the-env"), "-c", PRINT_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from-the-env"


def test_an_empty_key_file_is_no_key(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("\n")
    result = run(settings_env(tmp_path, SECRET_KEY_FILE=str(key_file)), "-c", PRINT_KEY)
    assert result.returncode != 0 and "SECRET_KEY is required" in result.stderr


def test_make_writes_a_random_key_once_with_mode_600(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text((ROOT / "Makefile").read_text())
    made = subprocess.run(["make", "-s", "var/secret_key"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    key_file = tmp_path / "var" / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 50 and (key_file.stat().st_mode & 0o777) == 0o600
    again = subprocess.run(["make", "-s", "var/secret_key"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and key_file.read_text().strip() == key  # kept: written once


def test_the_test_settings_bring_their_own_key():
    from django.conf import settings

    assert settings.SECRET_KEY.startswith("curio-test-suite-key-")
    assert os.environ["SECRET_KEY"] == settings.SECRET_KEY  # inherited by the servers and workers tests start
