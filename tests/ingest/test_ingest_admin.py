"""Admin for items, shoppers and events: browsable, searchable, filterable; events read-only."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recsys.models import Event, Item

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(write_api):
    write_api.post("/api/v1/items/", [{"item_id": f"sku-{i}", "title": f"Lamp {i}", "category": "Lighting"}
                                      for i in range(3)], format="json")
    events = [{"user_id": f"u{i % 2}", "item_id": f"sku-{i % 3}", "type": "view" if i % 2 else "purchase",
               "timestamp": f"2025-01-01T00:00:0{i}Z", "recommendation_id": "rec-9" if i == 4 else ""}
              for i in range(6)]
    assert write_api.post("/api/v1/events/", events, format="json").json()["accepted"] == 6


def rows_in(response) -> int:
    assert response.status_code == 200
    return len(response.context["cl"].result_list)


def test_events_list_search_and_filters(admin_client, shop):
    url = "/admin/recsys/event/"
    assert rows_in(admin_client.get(url)) == 6
    assert rows_in(admin_client.get(url, {"q": "u1"})) == 3           # a user id
    assert rows_in(admin_client.get(url, {"q": "sku-2"})) == 2        # an item id
    assert rows_in(admin_client.get(url, {"q": "rec-9"})) == 1        # a recommendation id
    one = Event.objects.first().event_id
    assert rows_in(admin_client.get(url, {"q": one})) == 1            # an event id
    assert rows_in(admin_client.get(url, {"q": "nobody"})) == 0
    assert rows_in(admin_client.get(url, {"type__exact": "purchase"})) == 3


def test_event_list_page_makes_few_queries_and_never_counts_the_whole_table(admin_client, shop):
    with CaptureQueriesContext(connection) as queries:
        admin_client.get("/admin/recsys/event/")
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts)
    assert len(queries.captured_queries) < 15  # not one query per row


def test_events_are_read_only(admin_client, shop):
    event = Event.objects.first()
    page = admin_client.get(f"/admin/recsys/event/{event.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(f"/admin/recsys/event/{event.pk}/change/", {"type": "click"}).status_code == 403
    assert admin_client.get("/admin/recsys/event/add/").status_code == 403
    assert admin_client.get(f"/admin/recsys/event/{event.pk}/delete/").status_code == 403
    assert Event.objects.get(pk=event.pk).type == event.type


def test_items_and_shoppers_are_browsable(admin_client, shop):
    assert rows_in(admin_client.get("/admin/recsys/item/", {"q": "Lamp"})) == 3
    assert rows_in(admin_client.get("/admin/recsys/item/", {"q": "sku-1"})) == 1
    assert rows_in(admin_client.get("/admin/recsys/item/", {"category": "Lighting"})) == 3
    assert rows_in(admin_client.get("/admin/recsys/shopper/", {"q": "u0"})) == 1
    assert rows_in(admin_client.get("/admin/recsys/shopper/", {"personalization_consent__exact": "1"})) == 2
    shopper_events = admin_client.get("/admin/recsys/event/", {"shopper__id__exact": Event.objects.first().shopper_id})
    assert rows_in(shopper_events) == 3


def test_bulk_availability_action(admin_client, shop):
    pks = list(Item.objects.values_list("pk", flat=True)[:2])
    admin_client.post("/admin/recsys/item/", {"action": "make_unavailable", "_selected_action": pks})
    assert Item.objects.filter(available=False).count() == 2
