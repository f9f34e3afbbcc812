from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from recsys.health import healthz, readyz
from recsys.metrics_view import MetricsView
from recsys.storefront.views import shopper_signature, storefront
from recsys.training.admin import model_card_view

urlpatterns = [
    path("", storefront, name="storefront"),
    path("storefront/shopper-signature", shopper_signature, name="storefront-shopper-signature"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("admin/recsys/modelversion/<int:pk>/card/", admin.site.admin_view(model_card_view), name="admin-model-card"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # GET and HEAD only: OPTIONS would render DRF's metadata through the page's HTML template (a 500).
    # The split view serves Swagger UI's start script from /api/docs/?script= (no inline script: the CSP);
    # templates/drf_spectacular/swagger_ui.html gives the page's one inline style the request's CSP nonce.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", http_method_names=["get", "head"]),
         name="swagger-ui"),
    path("api/v1/", include("recsys.urls")),
    path("api/v1/curation/", include("curation.urls")),
]

handler404 = "recsys.http.guards.api_not_found"
handler500 = "recsys.ops.db_outage.server_error"
