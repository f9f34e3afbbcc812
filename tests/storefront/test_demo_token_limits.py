"""The demo token stays in the demo: demo shoppers on demo items, its own throttle, no weight outside demo mode."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from recsys.models import Event, Feedback, Item, Shopper
from recsys.serving import popular
from recsys.storefront import demo_shop
from recsys.storefront.selectors import demo_mode_cache_clear
from recsys.storefront.services import demo_shopper_signatures, demo_token_ensure
from recsys.training.config import weight_config
from recsys.training.selectors import event_arrays

pytestmark = pytest.mark.django_db
DEMO_ITEM, REAL_ITEM = "demo-sku-0001", "sku-real"


@pytest.fixture(autouse=True)
def fresh_caches():
    demo_mode_cache_clear()
    popular.clear_cache()
    yield
    demo_mode_cache_clear()
    popular.clear_cache()


@pytest.fixture
def demo_api(db, settings):
    """The demo page's token, in demo mode, speaking for demo-visitor-1 (signed as the page signs it)."""
    settings.DEMO_MODE = True
    for item_id in (DEMO_ITEM, REAL_ITEM):
        Item.objects.get_or_create(item_id=item_id, defaults={"title": item_id, "category": "Kitchen"})
    api = APIClient()
    token = demo_token_ensure()
    signature = demo_shopper_signatures(user_ids=["demo-visitor-1"])["demo-visitor-1"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}", HTTP_CURIO_SHOPPER_SIGNATURE=signature)
    return api


def test_demo_events_and_feedback_only_for_demo_shoppers_on_demo_items(demo_api):
    def event(item, user="demo-visitor-1"):
        return {"user_id": user, "item_id": item, "type": "purchase"}

    assert demo_api.post("/api/v1/events/", [event(DEMO_ITEM)], format="json").status_code == 200
    assert demo_api.post("/api/v1/events/", [event(REAL_ITEM)], format="json").status_code == 403
    assert demo_api.post("/api/v1/events/", [event(DEMO_ITEM), event(REAL_ITEM)], format="json").status_code == 403
    assert demo_api.post("/api/v1/events/", [event(DEMO_ITEM)] * 101, format="json").status_code == 403
    feedback = "/api/v1/users/demo-visitor-1/feedback/"
    assert demo_api.post(feedback, {"item_id": REAL_ITEM, "type": "report"}, format="json").status_code == 403
    assert demo_api.post(feedback, {"item_id": DEMO_ITEM, "type": "report"}, format="json").status_code == 201
    assert not Event.objects.filter(item__item_id=REAL_ITEM).exists()
    assert not Feedback.objects.filter(item__item_id=REAL_ITEM).exists()


def _demo_purchases_outweigh_a_real_view():
    items = {i.item_id: i for i in (Item.objects.get_or_create(item_id=n, defaults={"title": n})[0]
                                    for n in ("sku-a", "sku-b"))}
    now = timezone.now()
    real = Shopper.objects.create(user_id="real-1")
    Event.objects.create(shopper=real, item=items["sku-a"], type="view", event_id="r1", timestamp=now)
    for n in range(5):
        fake = Shopper.objects.create(user_id=f"{demo_shop.USER_PREFIX}bot-{n}")
        Event.objects.create(shopper=fake, item=items["sku-b"], type="purchase", event_id=f"d{n}", timestamp=now)
    return real, now


def test_demo_shoppers_count_in_popular_lists_only_in_demo_mode(settings):
    _demo_purchases_outweigh_a_real_view()
    settings.DEMO_MODE = False
    assert popular.popular_items(n=2)[0][0] == "sku-a"
    settings.DEMO_MODE = True
    popular.clear_cache()
    assert popular.popular_items(n=2)[0][0] == "sku-b"


def test_demo_shoppers_are_left_out_of_training_outside_demo_mode(settings):
    real, now = _demo_purchases_outweigh_a_real_view()
    settings.DEMO_MODE = False
    users, _, _, read = event_arrays(config=weight_config(), now=now)
    assert set(users.tolist()) == {real.pk} and read == 1
    settings.DEMO_MODE = True
    users, _, _, read = event_arrays(config=weight_config(), now=now)
    assert len(set(users.tolist())) == 6 and read == 6


def test_no_password_on_a_page_outside_explicit_demo_mode(client, settings):
    Item.objects.create(item_id=DEMO_ITEM, title="Skillet")
    shopper = Shopper.objects.create(user_id="demo-u0001")
    Event.objects.create(shopper=shopper, item=Item.objects.get(item_id=DEMO_ITEM), type="view",
                         event_id=f"{demo_shop.EVENT_PREFIX}x-1", timestamp=timezone.now())
    settings.DEBUG, settings.DEMO_MODE = False, "auto"  # a deployed instance that has the demo shop loaded
    html = client.get("/").content.decode()
    assert "storefront-config" in html and demo_shop.MERCHANDISER_PASSWORD not in html
    assert demo_shop.MERCHANDISER_USERNAME in html
    settings.DEMO_MODE = False
    assert demo_shop.MERCHANDISER_PASSWORD not in client.get("/").content.decode()
    settings.DEMO_MODE = True  # switched on by hand: a demo box
    assert demo_shop.MERCHANDISER_PASSWORD in client.get("/").content.decode()


def test_the_demo_mode_check_is_cached(client, settings):
    settings.DEMO_MODE = "auto"
    client.get("/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    assert not [q for q in queries.captured_queries if "LIKE" in q["sql"].upper()], queries.captured_queries
