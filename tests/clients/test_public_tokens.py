"""Public tokens (read, demo: they live in browsers) cannot speak for a shopper they were not vouched for,
cannot take the shop's idempotency ids, and the demo token ends with demo mode (issue #25)."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from recsys.analytics.impression_buffer import FIELDS
from recsys.clients.models import ApiClient
from recsys.clients.shopper_signatures import sign_shopper, signature_problem
from recsys.models import Event, Feedback, Item
from recsys.storefront.services import demo_shopper_signatures, demo_token_ensure
from tests.conftest import make_client
from tests.serving import test_serving_raw

USER = "games-fan-3"
PATH = f"/api/v1/users/{USER}/recommendations/"


# The serving world's fixtures (a shop, a trained ALS, a fresh impression buffer per test).
als, serving_env = test_serving_raw.als, test_serving_raw.serving_env


def ids(body: dict) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def secret_of(name: str) -> str:
    return ApiClient.objects.get(name=name).signing_secret


# --- the signature itself ---------------------------------------------------------------------

def test_a_signature_is_bound_to_its_shopper_secret_and_expiry():
    good = sign_shopper("s3cret", "u1", ttl_seconds=60, now=1_000_000)
    assert signature_problem("s3cret", "u1", good, now=1_000_030) is None
    assert signature_problem("s3cret", "u2", good, now=1_000_030) == "invalid"  # another shopper
    assert signature_problem("other", "u1", good, now=1_000_030) == "invalid"  # another client's secret
    assert signature_problem("s3cret", "u1", good, now=1_000_061) == "expired"
    expires, mac = good.split(".")
    later = f"{int(expires) + 3600}.{mac}"  # a stretched expiry breaks the MAC
    assert signature_problem("s3cret", "u1", later, now=1_000_030) == "invalid"
    tampered = f"{expires}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}"
    assert signature_problem("s3cret", "u1", tampered, now=1_000_030) == "invalid"
    for bad in ("", None, "abc", "12.xyz", "x" * 500, f"-5.{mac}"):
        assert signature_problem("s3cret", "u1", bad, now=1_000_030) in {"missing", "malformed"}


# --- personal lists ---------------------------------------------------------------------------

def test_a_read_token_without_a_signature_gets_the_unknown_shoppers_list(als, write_api, serving_env):
    reader = make_client("shop-frontend", "read", sign=False)
    unsigned = reader.get(PATH, {"limit": 8}).json()
    unknown = reader.get("/api/v1/users/nobody-at-all/recommendations/", {"limit": 8}).json()
    personal = write_api.get(PATH, {"limit": 8}).json()
    assert personal["model_version"] == als.pk and personal["items"][0]["source"] == "model"
    # Nothing about the shopper: no model list, no history reasons, the same items an unknown id gets.
    assert unsigned["model_version"] is None and unsigned["model_version"] == unknown["model_version"]
    assert ids(unsigned) == ids(unknown)
    assert {i["source"] for i in unsigned["items"]} == {"popular"}
    assert not [r for i in unsigned["items"] for r in i["reasons"] if r["type"] == "history"]
    # Not even what the shopper has seen: the unknown list is not filtered by the shopper's history.
    seen = set(Event.objects.filter(shopper__user_id=USER).values_list("item__item_id", flat=True))
    with_seen = reader.get(PATH, {"limit": 50}).json()
    assert set(ids(with_seen)) & seen == set(ids(reader.get("/api/v1/users/nobody-at-all/recommendations/",
                                                              {"limit": 50}).json())) & seen


def test_a_signed_read_token_gets_the_personal_list_and_bad_signatures_do_not(als, write_api):
    reader = make_client("shop-frontend", "read", sign=False)
    secret = secret_of("shop-frontend")
    personal = write_api.get(PATH, {"limit": 8}).json()
    signed = reader.get(PATH, {"limit": 8}, HTTP_CURIO_SHOPPER_SIGNATURE=sign_shopper(secret, USER)).json()
    assert signed["model_version"] == als.pk and ids(signed) == ids(personal)
    for bad in (sign_shopper(secret, USER, ttl_seconds=-5),  # expired
                sign_shopper(secret, "games-fan-4"),  # another shopper's
                sign_shopper("not-the-secret", USER),  # forged
                sign_shopper(secret, USER)[:-2] + "00"):  # tampered
        body = reader.get(PATH, {"limit": 8}, HTTP_CURIO_SHOPPER_SIGNATURE=bad).json()
        assert body["model_version"] is None, bad


def test_similar_and_basket_use_the_shoppers_seen_items_only_when_signed(als):
    reader = make_client("shop-frontend", "read", sign=False)
    seen = set(Event.objects.filter(shopper__user_id=USER).values_list("item__item_id", flat=True))
    context = sorted(seen)[0]
    path = f"/api/v1/items/{context}/similar/"
    unsigned = reader.get(path, {"limit": 50, "user_id": USER}).json()
    anonymous = reader.get(path, {"limit": 50}).json()
    signed = reader.get(path, {"limit": 50, "user_id": USER},
                        HTTP_CURIO_SHOPPER_SIGNATURE=sign_shopper(secret_of("shop-frontend"), USER)).json()
    assert ids(unsigned) == ids(anonymous)  # the unsigned user_id changed nothing
    assert not set(ids(signed)) & (seen - {context})
    assert set(ids(unsigned)) & (seen - {context}), "the shop's world gives the shopper's seen items as similar"


def test_signing_can_be_turned_off_for_server_side_read_tokens(als, settings):
    settings.SIGNED_SHOPPERS = False
    reader = make_client("backend-reader", "read", sign=False)
    assert reader.get(PATH, {"limit": 8}).json()["model_version"] == als.pk


def test_unsigned_lists_count_toward_no_rule_verdict_and_name_no_shopper(als, write_api, serving_env, settings):
    items = ids(write_api.get(PATH, {"limit": 8}).json())
    pin = write_api.post("/api/v1/curation/pins/", {"item_id": items[5], "position": 1, "holdout_share": 0.5},
                         format="json").json()
    reader = make_client("shop-frontend", "read", sign=False)
    secret = secret_of("shop-frontend")
    serving_env._rows.clear()
    for n in range(40):  # fabricated shoppers: half would land in the pin's holdout
        reader.get(f"/api/v1/users/fake-{n}/recommendations/", {"limit": 8})
    rows = [dict(zip(FIELDS, r, strict=True)) for r in serving_env._rows]
    assert rows and all(r["user_id"] == "" for r in rows)
    assert not [r for r in rows if r["rule_ids"] or r["holdout_rule_ids"]]
    serving_env._rows.clear()
    reader.get(PATH, {"limit": 8}, HTTP_CURIO_SHOPPER_SIGNATURE=sign_shopper(secret, USER))
    rows = [dict(zip(FIELDS, r, strict=True)) for r in serving_env._rows]
    assert {r["user_id"] for r in rows} == {USER}
    assert any(pin["id"] in (r["rule_ids"] + r["holdout_rule_ids"]) for r in rows)


# --- demo token ---------------------------------------------------------------------------------

@pytest.fixture
def demo_items(db):
    Item.objects.create(item_id="demo-sku-0001", title="Skillet", category="Kitchen")
    Item.objects.create(item_id="sku-1", title="Real skillet", category="Kitchen")


def demo_client() -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {demo_token_ensure()}")
    return api


def test_the_demo_token_works_only_in_demo_mode(demo_items, settings):
    settings.DEMO_MODE = True
    demo = demo_client()
    sig = demo_shopper_signatures(user_ids=["demo-v1"])["demo-v1"]
    event = [{"user_id": "demo-v1", "item_id": "demo-sku-0001", "type": "view"}]
    assert demo.get("/api/v1/popular/", {"raw": "true"}).status_code == 200
    assert demo.post("/api/v1/events/", event, format="json", HTTP_CURIO_SHOPPER_SIGNATURE=sig).status_code == 200
    settings.DEMO_MODE = False
    for response in (demo.get("/api/v1/popular/", {"raw": "true"}), demo.get("/api/v1/items/demo-sku-0001/"),
                     demo.post("/api/v1/events/", event, format="json", HTTP_CURIO_SHOPPER_SIGNATURE=sig)):
        assert response.status_code == 403 and "demo mode" in response.json()["detail"]


def test_demo_events_and_feedback_need_the_shoppers_signature(demo_items, settings):
    settings.DEMO_MODE = True
    demo = demo_client()
    sig = demo_shopper_signatures(user_ids=["demo-v1"])["demo-v1"]
    event = [{"user_id": "demo-v1", "item_id": "demo-sku-0001", "type": "view"}]
    refused = demo.post("/api/v1/events/", event, format="json")
    assert refused.status_code == 403 and "Curio-Shopper-Signature" in refused.json()["detail"]
    other = demo_shopper_signatures(user_ids=["demo-v2"])["demo-v2"]
    assert demo.post("/api/v1/events/", event, format="json", HTTP_CURIO_SHOPPER_SIGNATURE=other).status_code == 403
    feedback = {"item_id": "demo-sku-0001", "type": "report"}
    assert demo.post("/api/v1/users/demo-v1/feedback/", feedback, format="json").status_code == 403
    assert demo.post("/api/v1/users/demo-v1/feedback/", feedback, format="json",
                     HTTP_CURIO_SHOPPER_SIGNATURE=sig).status_code == 201
    assert not Event.objects.exists()


def test_the_demo_token_cannot_squat_the_shops_idempotency_ids(demo_items, settings, write_api):
    settings.DEMO_MODE = True
    demo = demo_client()
    sig = demo_shopper_signatures(user_ids=["demo-v1"])["demo-v1"]
    squat = [{"user_id": "demo-v1", "item_id": "demo-sku-0001", "type": "purchase", "event_id": "order-future-1"}]
    assert demo.post("/api/v1/events/", squat, format="json", HTTP_CURIO_SHOPPER_SIGNATURE=sig).json() == {
        "accepted": 1, "duplicates": 0}
    # The demo's retry is still idempotent in its own namespace.
    assert demo.post("/api/v1/events/", squat, format="json", HTTP_CURIO_SHOPPER_SIGNATURE=sig).json() == {
        "accepted": 0, "duplicates": 1}
    real = [{"user_id": "customer-9", "item_id": "sku-1", "type": "purchase", "event_id": "order-future-1"}]
    response = write_api.post("/api/v1/events/", real, format="json")
    assert response.status_code == 200 and response.json() == {"accepted": 1, "duplicates": 0}
    assert Event.objects.get(event_id="order-future-1").shopper.user_id == "customer-9"

    demo_feedback = {"item_id": "demo-sku-0001", "type": "report", "feedback_id": "fb-1"}
    assert demo.post("/api/v1/users/demo-v1/feedback/", demo_feedback, format="json",
                     HTTP_CURIO_SHOPPER_SIGNATURE=sig).status_code == 201
    real_feedback = {"item_id": "sku-1", "type": "report", "feedback_id": "fb-1"}
    assert write_api.post("/api/v1/users/customer-9/feedback/", real_feedback, format="json").status_code == 201
    assert Feedback.objects.get(feedback_id="fb-1").shopper.user_id == "customer-9"


# --- the commands and the demo page ------------------------------------------------------------

def test_the_commands_print_a_working_signature_and_the_secret(als):
    make_client("shop-frontend", "read", sign=False)
    out = io.StringIO()
    call_command("sign_shopper", "shop-frontend", USER, "--ttl", "60", stdout=out, stderr=io.StringIO())
    value = out.getvalue().strip().splitlines()[-1]
    assert signature_problem(secret_of("shop-frontend"), USER, value) is None
    out = io.StringIO()
    call_command("shopper_signing_secret", "shop-frontend", stdout=out, stderr=io.StringIO())
    assert out.getvalue().strip().splitlines()[-1] == secret_of("shop-frontend")


def test_every_client_gets_its_own_signing_secret(db):
    make_client("a", "read")
    make_client("b", "read")
    secrets = list(ApiClient.objects.values_list("signing_secret", flat=True))
    assert len(set(secrets)) == 2 and all(len(s) >= 40 for s in secrets)


def test_the_demo_page_signs_its_shoppers_and_only_demo_ids(client, demo_items, settings):
    settings.DEMO_MODE = True
    demo_token_ensure()
    response = client.get("/storefront/shopper-signature", {"user_id": "demo-visitor-7"})
    assert response.status_code == 200
    secret = secret_of("storefront-demo")
    assert signature_problem(secret, "demo-visitor-7", response.json()["signature"]) is None
    assert client.get("/storefront/shopper-signature", {"user_id": "customer-9"}).status_code == 400
    settings.DEMO_MODE = False
    assert client.get("/storefront/shopper-signature", {"user_id": "demo-visitor-7"}).status_code == 404
