"""Security: the TLS-only switches, trusted origins, framing, Content-Security-Policy, the admin login lockout."""
from datetime import timedelta

from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES

from .env import env_bool, env_float, env_int, env_list

# --- TLS-only settings, each switched on by its own variable ------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
X_FRAME_OPTIONS = "DENY"

# --- always on ------------------------------------------------------------------------
# Content-Security-Policy (django-csp) on every page of the full chain: storefront, admin, board, preview, API
# docs. Scripts and styles come from our own static files, or carry the request's nonce (`request.csp_nonce`);
# no inline event handlers, no style attributes (but one, by hash), no eval. Images may come from any http(s)
# host: items' `image_url`s point at the shop's own image hosts. The token API (API_MIDDLEWARE) answers JSON only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        # One style attribute by exact text: django-simple-history's history page (`border-top: 0`).
        "style-src": [SELF, NONCE, UNSAFE_HASHES, "'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='"],
        "img-src": [SELF, "data:", "https:", "http:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Messages live in the session (server side), never in a cookie: the admin shows a new API token once through
# a message, and the default cookie storage would send it to the browser signed but not encrypted.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Admin login: django-axes locks a username + client address out after this many failed logins in a row
# (429, the page templates/admin/login_locked.html) for the cool-off; each failure during the lockout starts
# the cool-off again, and a successful login clears the count. Behind a reverse proxy every client has the
# proxy's address, so it works per username. Unlock early with `manage.py axes_reset_username NAME`.
# Only the admin's username/password login is watched: API tokens never go through django.contrib.auth.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before any password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("CURIO_ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("CURIO_ADMIN_LOGIN_COOLOFF_MINUTES", 15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/login_locked.html"
AXES_VERBOSE = False
