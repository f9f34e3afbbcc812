#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys

# Commands that sign nothing: they run without SECRET_KEY whatever DEBUG says (CI, a schema check).
NO_SECRET_COMMANDS = {"makemigrations"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if len(sys.argv) > 1 and sys.argv[1] in NO_SECRET_COMMANDS and not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = f"unused-by-{sys.argv[1]}"
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings here, so a bad environment is one clear line
    except ImproperlyConfigured as exc:
        sys.exit(f"Configuration error: {exc}")
    from config.runtime_dirs import runtime_dirs_ensure

    runtime_dirs_ensure()  # var/ and STATIC_ROOT: the settings name them, this start makes them
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
