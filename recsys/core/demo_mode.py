"""Demo mode: the one switch the production path reads (the demo API scope, popular lists and training that
leave demo shoppers out). CURIO_DEMO_MODE on or off, or "auto": on while the demo shop is loaded. Whether it
is loaded is the demo shop's own check (recsys.storefront.selectors.demo_is_loaded), handed in at start-up
(recsys.apps), so nothing on the production path imports the demo shop."""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

_loaded: Callable[[], bool] = lambda: False  # noqa: E731 - until the demo shop hands its check in


def set_loaded_check(check: Callable[[], bool]) -> None:
    """The demo shop's "is the demo loaded?" (cached by it), asked in "auto" mode."""
    global _loaded
    _loaded = check


def demo_mode_on() -> bool:
    """Is the storefront in demo mode? (CURIO_DEMO_MODE, or "auto": the demo shop is loaded.)"""
    if settings.DEMO_MODE == "auto":
        return _loaded()
    return bool(settings.DEMO_MODE)


def demo_mode_explicit() -> bool:
    """Demo mode switched on by hand (CURIO_DEMO_MODE=1) or a DEBUG instance: only then does the demo page
    print the demo logins' passwords (an "auto" demo on a deployed instance does not)."""
    return settings.DEMO_MODE is True or (settings.DEBUG and demo_mode_on())
