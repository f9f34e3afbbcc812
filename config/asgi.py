import os

from django.core.asgi import get_asgi_application

from config.runtime_dirs import runtime_dirs_ensure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
runtime_dirs_ensure()  # before WhiteNoise looks for STATIC_ROOT
application = get_asgi_application()
