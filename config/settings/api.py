"""The token REST API: rates, token cache, body and batch limits, CORS, DRF and the OpenAPI schema."""
import os

from corsheaders.defaults import default_headers as cors_default_headers

from .env import env_bool, env_float, env_int, env_list

API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "100000/min")
# Public tokens (read, demo: they live in browsers) speak for a shopper only with a signature from the
# shop's backend (Curio-Shopper-Signature); 0 turns that off for shops that keep read tokens server-side.
SIGNED_SHOPPERS = env_bool("CURIO_SIGNED_SHOPPERS", True)
# Valid tokens are cached per process this long (a revoked token keeps working in other processes
# for at most this many seconds; 0 looks every request up in the DB).
TOKEN_CACHE_SECONDS = env_float("CURIO_TOKEN_CACHE_SECONDS", 5.0)
# The storefront demo token is public (it is in the demo page): its own, low rate (one budget for all visitors).
DEMO_THROTTLE_RATE = os.environ.get("CURIO_DEMO_THROTTLE_RATE", "300/min")
# Rates for the expensive calls, per API client on top of API_THROTTLE_RATE (recsys/clients/throttles.py;
# docs/api.md, "Rates"); an empty value turns one off. Sized for a 2-core host: a batch shopper with
# limit=100 costs ~8 ms of CPU, so 3000/min is under half a core per client.
THROTTLE_SCOPE_RATES = {
    "batch": os.environ.get("CURIO_THROTTLE_BATCH", "3000/min"),  # counted per shopper in the batch
    "export": os.environ.get("CURIO_THROTTLE_EXPORT", "30/min"),  # GET /users/<id>/data/
    "impact": os.environ.get("CURIO_THROTTLE_IMPACT", "60/min"),  # GET /curation/<kind>/<id>/impact/
    "training": os.environ.get("CURIO_THROTTLE_TRAINING", "6/hour"),  # POST /training-runs/ only
    "preview": os.environ.get("CURIO_THROTTLE_PREVIEW", "60/min"),  # the admin preview, per staff user
}
# A batch list answers at most this many items: len(user_ids) x limit (else 400).
BATCH_MAX_ITEMS = env_int("CURIO_BATCH_MAX_ITEMS", 10_000)
# An impact report is kept this long per (rule, start, end) in the Django cache (0: not cached).
IMPACT_CACHE_SECONDS = env_int("CURIO_IMPACT_CACHE_SECONDS", 30)
# Bounded work per request: API bodies over this many bytes answer 413 (a 10,000-row batch fits), and
# JSON nested deeper than this answers 400.
MAX_BODY_BYTES = env_int("CURIO_MAX_BODY_BYTES", 32 * 1024 * 1024)
# Read and demo tokens are public (they live in browsers): their bodies answer 413 over this many bytes.
PUBLIC_MAX_BODY_BYTES = env_int("CURIO_PUBLIC_MAX_BODY_BYTES", 64 * 1024)
JSON_MAX_DEPTH = env_int("CURIO_JSON_MAX_DEPTH", 32)

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
# Browsers calling the API from a shop's pages send the shopper's signature (docs/api.md, "Signed shoppers").
CORS_ALLOW_HEADERS = (*cors_default_headers, "curio-shopper-signature")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["recsys.clients.auth.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["recsys.clients.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["recsys.clients.auth.ClientRateThrottle",
                                 "recsys.clients.throttles.ScopedClientThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": API_THROTTLE_RATE or None, "demo": DEMO_THROTTLE_RATE or None,
                               **{scope: rate or None for scope, rate in THROTTLE_SCOPE_RATES.items()}},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["recsys.http.guards.SafeJSONParser"],
    "EXCEPTION_HANDLER": "recsys.http.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "recsys.http.schema.ApiAutoSchema",  # documents each operation's error answers
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Curio API",
    "DESCRIPTION": "Personalized recommendations with a human curator override.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The token scheme is described by recsys.clients.auth.ApiTokenScheme.
    # Requests and answers get their own components (`PinRuleRequest` has no read-only `id`, `status`, ...), so
    # generated clients never have to send what the server ignores (docs/api.md, "Generate a client").
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "recsys.training.models.TrainingRun.Status",
        "FeedbackTypeEnum": "recsys.feedback.models.FeedbackType",
        "FeedbackStatusEnum": "recsys.feedback.models.Feedback.Status",
        "EventTypeEnum": "recsys.catalog.models.EventType",
        "RuleKindEnum": "curation.models.RuleKind",
        "RuleStatusEnum": "curation.models.RuleStatus",
        "ImpactArmEnum": "recsys.analytics.models.RuleImpression.Arm",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "recsys.http.schema.postprocess"],
}
