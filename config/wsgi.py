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
    _reconcile_active_stamp()
    return application


def _reconcile_active_stamp():
    """At start, MODEL_DIR/ACTIVE names the database's active version (also checked by /readyz)."""
    import logging

    from django.db import connection

    from recsys.training.versions import active_stamp_reconcile

    try:
        active_stamp_reconcile()
    except Exception as exc:  # noqa: BLE001 - the database may be down at start; /readyz tries again
        logging.getLogger("curio.health").warning("ACTIVE stamp not reconciled at start: %s", type(exc).__name__)
    finally:
        connection.close()  # never hand an open connection to forked workers (gunicorn --preload)


application = _build()
