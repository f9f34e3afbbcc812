"""WSGI entry point: the token API (settings.API_PREFIX) gets its own lean middleware chain
(settings.API_MIDDLEWARE); everything else (admin, storefront, docs, probes) the full one."""
import os

from django.core.wsgi import get_wsgi_application

from config.runtime_dirs import runtime_dirs_ensure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _build():
    runtime_dirs_ensure()  # before WhiteNoise looks for STATIC_ROOT
    full = get_wsgi_application()  # also runs django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    # BaseHandler.load_middleware reads settings.MIDDLEWARE: swap it in for the one construction.
    saved = settings.MIDDLEWARE
    settings.MIDDLEWARE = settings.API_MIDDLEWARE
    try:
        api = WSGIHandler()
    finally:
        settings.MIDDLEWARE = saved
    prefix = settings.API_PREFIX

    def application(environ, start_response):
        handler = api if environ.get("PATH_INFO", "").startswith(prefix) else full
        return handler(environ, start_response)

    application.api_handler, application.full_handler = api, full
    return application


application = _build()
