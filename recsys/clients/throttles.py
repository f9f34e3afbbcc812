"""Rates for the expensive calls, on top of the per-client rate (docs/api.md, "Rates").

A view names its scope: `throttle_scope = "export"`, or per method (`{"POST": "training"}`: a method
without an entry is not charged). The scope's rate is `DEFAULT_THROTTLE_RATES[scope]`, set by
`CURIO_THROTTLE_<SCOPE>` in config/settings/api.py, and it is counted per API client in the client rate's
shared fixed-window budget (`ClientRateThrottle`, recsys/clients/rate_budget.py), so a batch list counts as its
number of shoppers here too.
A view without a scope, or a scope without a rate (empty variable), is not limited. Over the rate: 429
with `Retry-After` and a message naming the rate and its variable.

The merchandiser preview is a Django admin view, not a DRF one: `staff_throttled(request, scope)` counts
its requests per staff user with the same counter.
"""
from __future__ import annotations

from types import SimpleNamespace

from rest_framework import exceptions

from recsys.clients.auth import ClientRateThrottle

# scope -> what it covers (in the 429 message and docs/api.md's table). The variable is CURIO_THROTTLE_<SCOPE>.
SCOPES = {
    "batch": "batch-list shoppers",
    "export": "shopper exports",
    "impact": "impact reports",
    "training": "training-run starts",
    "preview": "previews",
}


def view_scope(view, method: str) -> str | None:
    """The throttle scope `view` declares for `method` (None: not charged)."""
    scope = getattr(view, "throttle_scope", None)
    if isinstance(scope, dict):
        return scope.get(method)
    return scope or None


class ScopedClientThrottle(ClientRateThrottle):
    """The rate of `view.throttle_scope`, per API client (after the client's own rate)."""

    scope = None

    def __init__(self):
        pass  # the rate depends on the view (as in DRF's ScopedRateThrottle)

    def allow_request(self, request, view):
        self.scope = view_scope(view, request.method)
        self.rate = self.THROTTLE_RATES.get(self.scope) if self.scope else None
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.count_request(request, view):
            return True
        what = SCOPES.get(self.scope, f"{self.scope} requests")
        raise exceptions.Throttled(wait=self.wait(), detail=(
            f"Too many {what}: at most {self.rate} {self._per} (CURIO_THROTTLE_{self.scope.upper()})."))

    _per = "per API client"


class _StaffThrottle(ScopedClientThrottle):
    _per = "per user"

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"staff-{user.pk}"}


def staff_throttled(request, scope: str) -> exceptions.Throttled | None:
    """Count an admin request against `scope`'s rate per staff user: None when it is allowed, else the
    refusal (its `detail` is the message, its `wait` the seconds for `Retry-After`)."""
    try:
        _StaffThrottle().allow_request(request, SimpleNamespace(throttle_scope=scope))
    except exceptions.Throttled as refused:
        return refused
    return None
