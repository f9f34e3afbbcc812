"""The page at `/`: the storefront demo (in demo mode) or a short landing page.

The demo page renders only a shell and its configuration; the browser fetches every list from the
public REST API with a demo-scope token (see recsys.clients.auth.demo_allows), as a frontend team would.
"""
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from recsys.core.demo_mode import demo_mode_explicit, demo_mode_on
from recsys.storefront import demo_shop
from recsys.storefront.selectors import active_model_summary, demo_shoppers, shop_categories
from recsys.storefront.services import demo_shopper_signatures, demo_token_ensure

LIST_LENGTH = 8


@never_cache
def storefront(request):
    links = {"admin": reverse("admin:index"), "docs": reverse("swagger-ui"), "api": "/api/v1"}
    model = active_model_summary()
    if not demo_mode_on():
        return render(request, "storefront/landing.html", {"links": links, "model": model})
    token = demo_token_ensure()
    shoppers = demo_shoppers()
    signatures = demo_shopper_signatures(user_ids=[s.user_id for s in shoppers])
    config = {
        "token": token,
        "api": links["api"],
        "limit": LIST_LENGTH,
        "userPrefix": demo_shop.USER_PREFIX,
        "categories": shop_categories(),
        "shoppers": [{"id": s.user_id, "taste": s.taste, "signature": signatures.get(s.user_id)} for s in shoppers],
        "signatureUrl": reverse("storefront-shopper-signature"),
    }
    context = {
        "links": links,
        "model": model,
        "config": config,
        "token_revoked": token is None,
        "shoppers": shoppers,
        # The password only where demo mode is explicit (CURIO_DEMO_MODE=1, or DEBUG): never on a deployed
        # instance that merely has the demo shop loaded.
        "merchandiser": (demo_shop.MERCHANDISER_USERNAME,
                         demo_shop.MERCHANDISER_PASSWORD if demo_mode_explicit() else None),
    }
    return render(request, "storefront/shop.html", context)


@never_cache
def shopper_signature(request):
    """The demo shop's backend: a Curio-Shopper-Signature for a demo shopper id (demo mode only), as a
    shop's own backend would hand its logged-in shopper's page."""
    user_id = request.GET.get("user_id", "")
    if not demo_mode_on():
        return JsonResponse({"detail": "Not in demo mode."}, status=404)
    signature = demo_shopper_signatures(user_ids=[user_id]).get(user_id) if len(user_id) <= 128 else None
    if signature is None:
        return JsonResponse({"detail": f"Only demo shopper ids ({demo_shop.USER_PREFIX}...) are signed here."},
                            status=400)
    return JsonResponse({"user_id": user_id, "signature": signature})
