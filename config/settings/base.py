"""Django's core: paths, DEBUG, the secret key, hosts, apps, the two middleware chains, templates, static files."""
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_list

BASE_DIR = Path(__file__).resolve().parents[2]
# Runtime files of the embedded default (SQLite, queue, models, the secret key). Settings only name it: the entry
# points make it at start (config/runtime_dirs.py: manage.py, config/wsgi.py, config/asgi.py, the test run).
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", False)
# No built-in fallback, DEBUG or not: the key comes from the environment or from a file (`make run` writes a
# random one to var/secret_key once, mode 600). SECRET_KEY_FILE names another file (a mounted secret).
SECRET_KEY_FILE = Path(os.environ.get("SECRET_KEY_FILE") or VAR_DIR / "secret_key")


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "").strip()
    if not key and SECRET_KEY_FILE.is_file():
        key = SECRET_KEY_FILE.read_text(encoding="utf-8").strip()
    if not key:
        raise ImproperlyConfigured(
            f"SECRET_KEY is required: export SECRET_KEY=<a long random string>, or put one in {SECRET_KEY_FILE} "
            "(`make run` creates var/secret_key once: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "csp",
    "axes",
    "recsys",
    "curation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on pages (security.py, CONTENT_SECURITY_POLICY)
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "recsys.http.guards.ApiInputGuardMiddleware",
    "recsys.ops.db_outage.DatabaseOutageMiddleware",  # admin/storefront views: a DB outage is a 503 JSON
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out admin login into the lockout page (429)
]
# The token REST API (paths under API_PREFIX) runs through its own, shorter chain (config/wsgi.py):
# it has no sessions, cookies, CSRF forms, messages or admin history users, and those middlewares
# were a sixth of a list request's CPU. Security headers, CORS, slash handling and the input guard stay.
API_PREFIX = "/api/v1/"
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "recsys.http.guards.ApiInputGuardMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- i18n, static -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# Filled by `manage.py collectstatic`; made empty at start when missing (config/runtime_dirs.py), so WhiteNoise
# has a folder to serve from before the first collectstatic.
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
