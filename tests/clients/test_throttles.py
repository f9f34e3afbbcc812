"""A rate for every expensive call (recsys/clients/throttles.py; docs/api.md, "Rates"): batch lists per
shopper, exports, training-run starts (not reads), the admin preview per staff user; a cap on a batch's items.
Each over-the-rate answer is a 429 with `Retry-After` and the JSON error body."""
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User

from recsys.clients.throttles import ScopedClientThrottle
from tests.conftest import make_client

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/recommendations/batch/"
RUNS = "/api/v1/training-runs/"


@pytest.fixture
def rates(monkeypatch):
    """Lower scoped rates for one test (DRF reads THROTTLE_RATES off the class)."""
    def lower(**scoped):
        monkeypatch.setattr(ScopedClientThrottle, "THROTTLE_RATES", {**ScopedClientThrottle.THROTTLE_RATES, **scoped})
    return lower


def refused(response, variable: str) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) >= 1
    detail = response.json()["detail"]
    assert variable in detail and "Expected available in" in detail, detail


def test_the_documented_defaults_and_the_generic_rate():
    rates = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates["client"] == "100000/min"  # API_THROTTLE_RATE keeps its name and default
    assert {k: rates[k] for k in ("batch", "export", "impact", "training", "preview")} == {
        "batch": "3000/min", "export": "30/min", "impact": "60/min", "training": "6/hour", "preview": "60/min"}
    assert django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == [
        "recsys.clients.auth.ClientRateThrottle", "recsys.clients.throttles.ScopedClientThrottle"]
    assert django_settings.BATCH_MAX_ITEMS == 10_000


def test_a_batch_counts_its_shoppers_against_the_batch_rate(rates):
    rates(batch="5/min")
    api, other = make_client("batcher", "read"), make_client("other", "read")
    assert api.post(BATCH, {"user_ids": ["u1", "u2", "u3"], "limit": 2}, format="json").status_code == 200
    refused(api.post(BATCH, {"user_ids": ["u1", "u2", "u3"], "limit": 2}, format="json"), "CURIO_THROTTLE_BATCH")
    assert api.post(BATCH, {"user_ids": ["u1", "u2"], "limit": 2}, format="json").status_code == 200  # 3 + 2 = 5
    assert api.get("/api/v1/popular/").status_code == 200  # other lists are not batch lists
    assert other.post(BATCH, {"user_ids": ["u1", "u2", "u3"], "limit": 2}, format="json").status_code == 200


def test_a_batch_answer_has_at_most_batch_max_items(settings):
    api = make_client("batcher", "read")
    # The finding: 300 shoppers x limit=100 (30,000 items) was 2.5 s and 9 MB; the default cap refuses it.
    resp = api.post(BATCH, {"user_ids": [f"u{n}" for n in range(300)], "limit": 100}, format="json")
    assert resp.status_code == 400, resp.content
    detail = resp.json()["detail"]
    assert "300 user_ids x limit 100 = 30,000 items" in detail and "10,000" in detail, detail
    assert "CURIO_BATCH_MAX_ITEMS" in detail
    settings.BATCH_MAX_ITEMS = 20
    assert api.post(BATCH, {"user_ids": ["u1", "u2"], "limit": 10}, format="json").status_code == 200  # 20: fits
    over = api.post(BATCH, {"user_ids": ["u1", "u2", "u3"], "limit": 7}, format="json")
    assert over.status_code == 400 and "= 21 items" in over.json()["detail"] and " 20 items" in over.json()["detail"]
    assert api.post(BATCH, {"user_ids": ["u1", "u2", "u3"]}, format="json").status_code == 400  # default limit 10


def test_exports_have_their_own_rate(write_api, rates):
    rates(export="2/min")
    write_api.post("/api/v1/items/", [{"item_id": "sku-1", "title": "Kettle"}], format="json")
    write_api.post("/api/v1/events/", [{"user_id": "u1", "item_id": "sku-1", "type": "view"}], format="json")
    export = "/api/v1/users/u1/data/"
    assert [write_api.get(export).status_code for _ in range(2)] == [200, 200]
    refused(write_api.get(export), "CURIO_THROTTLE_EXPORT")
    assert write_api.get("/api/v1/items/sku-1/").status_code == 200  # the client's other calls go on
    assert make_client("other-backend", "write").get(export).status_code == 200


def test_training_starts_have_their_own_rate_and_reads_are_free(write_api, rates):
    rates(training="2/hour")
    assert all(write_api.get(RUNS).status_code == 200 for _ in range(5))  # reads are not charged
    # Inside the test's transaction the run is never dispatched: the second start returns the queued run.
    assert [write_api.post(RUNS, {}, format="json").status_code for _ in range(2)] == [202, 202]
    refused(write_api.post(RUNS, {}, format="json"), "CURIO_THROTTLE_TRAINING")
    assert write_api.get(RUNS).status_code == 200


def test_a_scope_without_a_rate_is_not_limited(write_api, rates):
    rates(training=None)
    assert {write_api.post(RUNS, {}, format="json").status_code for _ in range(8)} == {202}


def test_the_admin_preview_has_a_rate_per_staff_user(admin_client, client, rates):
    rates(preview="2/min")
    preview = "/admin/curation/rule/preview/"
    query = {"list_type": "popular", "limit": 5}
    assert admin_client.get(preview).status_code == 200  # the empty form builds no preview: not charged
    assert [admin_client.get(preview, query).status_code for _ in range(2)] == [200, 200]
    resp = admin_client.get(preview, query)
    assert resp.status_code == 429 and int(resp["Retry-After"]) >= 1
    assert resp.context["result"] is None and "CURIO_THROTTLE_PREVIEW" in resp.context["error"]
    assert b"Too many previews" in resp.content
    assert admin_client.get("/admin/curation/rule/board/").status_code == 429  # the board builds previews too
    other = User.objects.create_superuser("merch2", "m2@example.com", "pw")
    client.force_login(other)
    assert client.get(preview, query).status_code == 200  # another user has their own budget


def test_each_scope_has_its_own_counter(write_api, rates):
    """Spending the export rate leaves the training rate and the client's other calls alone; every export
    asked counts, whatever its answer (an unknown shopper's: 404, then 429)."""
    rates(export="1/min", training="1/hour")
    assert write_api.get("/api/v1/users/nobody/data/").status_code == 404
    assert write_api.get("/api/v1/users/nobody/data/").status_code == 429
    assert write_api.post(RUNS, {}, format="json").status_code == 202
    assert write_api.get(RUNS).status_code == 200
