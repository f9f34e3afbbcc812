"""One error envelope (DESIGN.md, Contract): `{"detail"}`, and for validation errors
`{"detail": "<one line>", "errors": [{"index", "field", "message"}]}`, from recsys.core.errors and the
one DRF exception handler (recsys.http.exception_handler)."""
from __future__ import annotations

import pytest
from rest_framework import exceptions

from recsys.catalog.services import ShopperNotFound
from recsys.core import errors
from recsys.http.exception_handler import api_exception_handler
from recsys.models import Item

# --- recsys.core.errors -----------------------------------------------------------------------------------------


def test_field_errors_flatten_serializer_and_model_messages():
    rows = errors.field_errors({
        "limit": ["Too big.", "Not even."],
        "item_ids": {1: ["Too long."], 3: ["Blank."]},  # a list field: per position
        "attributes": {"brand": ["Unknown."]},  # a nested mapping: dotted names
        "non_field_errors": ["Send a JSON object."],
        "__all__": "End before start.",  # Django's whole-object errors, one message alone
    }, index=0)
    assert rows == [
        {"index": 0, "field": "limit", "message": "Too big."},
        {"index": 0, "field": "limit", "message": "Not even."},
        {"index": 1, "field": "item_ids", "message": "Too long."},
        {"index": 3, "field": "item_ids", "message": "Blank."},
        {"index": 0, "field": "attributes.brand", "message": "Unknown."},
        {"index": 0, "field": "", "message": "Send a JSON object."},
        {"index": 0, "field": "", "message": "End before start."},
    ]
    assert errors.field_errors({"item": ["Unknown."]}, rename={"item": "item_id"})[0] == {
        "index": None, "field": "item_id", "message": "Unknown."}


def test_invalid_input_derives_a_one_line_detail():
    exc = errors.InvalidInput.of({"limit": ["Too big."], "placement": ["Not a slug."]})
    assert exc.status == 400
    assert exc.body() == {"detail": "limit: Too big.; placement: Not a slug.", "errors": [
        {"index": None, "field": "limit", "message": "Too big."},
        {"index": None, "field": "placement", "message": "Not a slug."}]}
    assert errors.InvalidInput([], detail="Invalid rule.").body() == {"detail": "Invalid rule.", "errors": []}
    many = errors.InvalidInput([errors.FieldError(index=i, field="title", message="is required") for i in range(25)])
    assert many.detail.count("title: is required") == errors.SUMMARY_MAX_ERRORS
    assert many.detail.endswith("and 15 more (see errors)") and "\n" not in many.detail


@pytest.mark.parametrize("exc, status, body", [
    (errors.BadRequest("Send a JSON object."), 400, {"detail": "Send a JSON object."}),
    (errors.NotFound("No training run 7."), 404, {"detail": "No training run 7."}),
    (ShopperNotFound("Neither 'a' nor 'b' is a known shopper."), 404,
     {"detail": "Neither 'a' nor 'b' is a known shopper."}),
    (errors.Conflict("No artifact."), 409, {"detail": "No artifact."}),
    (errors.Unavailable("Broker down.", extra={"id": 3, "status": "failed"}), 503,
     {"id": 3, "status": "failed", "detail": "Broker down."}),
])
def test_application_errors_answer_their_status_and_body(exc, status, body):
    response = api_exception_handler(exc, {})
    assert (response.status_code, response.data) == (status, body)


# --- the handler with DRF's own exceptions ---------------------------------------------------------------

def test_drf_validation_errors_get_the_validation_shape():
    response = api_exception_handler(exceptions.ValidationError({"limit": ["Too big."]}), {})
    assert response.status_code == 400
    assert response.data == {"detail": "limit: Too big.", "errors": [
        {"index": None, "field": "limit", "message": "Too big."}]}
    listed = api_exception_handler(exceptions.ValidationError(["Bad input."]), {})
    assert listed.data == {"detail": "Bad input.", "errors": [{"index": None, "field": "", "message": "Bad input."}]}


@pytest.mark.parametrize("exc, status", [
    (exceptions.ParseError("JSON parse error"), 400), (exceptions.NotAuthenticated(), 401),
    (exceptions.PermissionDenied(), 403), (exceptions.NotFound(), 404), (exceptions.MethodNotAllowed("PUT"), 405),
    (exceptions.UnsupportedMediaType("text/plain"), 415), (exceptions.Throttled(wait=30), 429),
])
def test_drf_exceptions_keep_drfs_detail_and_headers(exc, status):
    response = api_exception_handler(exc, {})
    assert response.status_code == status and set(response.data) == {"detail"}
    assert str(response.data["detail"]) == str(exc.detail)
    if status == 429:
        assert response["Retry-After"] == "30"


def test_unknown_exceptions_are_left_to_django():
    assert api_exception_handler(RuntimeError("boom"), {}) is None


# --- through the API: every error answer has the envelope ------------------------------------------------

REQUESTS = [
    ("post", "/api/v1/items/", [{"item_id": "a"}]),  # a bad row
    ("post", "/api/v1/items/", []),  # an empty batch
    ("post", "/api/v1/events/", [{"user_id": "u", "item_id": "nope", "type": "view"}]),
    ("get", "/api/v1/items/nope/", None),
    ("patch", "/api/v1/users/u1/", {}),
    ("patch", "/api/v1/users/u1/", [1]),
    ("delete", "/api/v1/users/nobody/", None),
    ("get", "/api/v1/users/nobody/data/", None),
    ("post", "/api/v1/users/u1/feedback/", {"item_id": "nope", "type": "report"}),
    ("post", "/api/v1/users/x/merge/", {"from_user_id": "x"}),
    ("post", "/api/v1/users/x/merge/", {"from_user_id": "y"}),
    ("post", "/api/v1/users/x/merge/", {}),
    ("get", "/api/v1/users/u1/recommendations/?limit=0", None),
    ("get", "/api/v1/items/nope/similar/", None),
    ("post", "/api/v1/recommendations/basket/", {"item_ids": []}),
    ("post", "/api/v1/training-runs/", [1]),
    ("get", "/api/v1/training-runs/424242/", None),
    ("post", "/api/v1/model-versions/424242/activate/", None),
    ("post", "/api/v1/curation/pins/", {"item_id": "nope", "position": 0}),
    ("get", "/api/v1/curation/pins/424242/", None),
    ("get", "/api/v1/users/" + "x" * 200 + "/recommendations/", None),
    ("get", "/api/v1/no-such-path/", None),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method, path, body", REQUESTS)
def test_every_error_answer_has_the_envelope(write_api, method, path, body):
    Item.objects.create(item_id="sku-1", title="One")
    response = getattr(write_api, method)(path, body, format="json") if body is not None else \
        getattr(write_api, method)(path)
    assert 400 <= response.status_code < 500, response.content
    data = response.json()
    assert isinstance(data, dict) and isinstance(data["detail"], str) and data["detail"]
    assert "\n" not in data["detail"]
    if "errors" in data:
        assert data["errors"] and all(set(e) == {"index", "field", "message"} for e in data["errors"])
        assert set(data) == {"detail", "errors"}
    else:
        assert set(data) == {"detail"}


@pytest.mark.django_db
def test_no_token_and_wrong_scope(read_api, anon_api):
    no_token = anon_api.get("/api/v1/popular/")
    assert no_token.status_code == 401 and set(no_token.json()) == {"detail"} and no_token["WWW-Authenticate"]
    wrong_scope = read_api.post("/api/v1/items/", [], format="json")
    assert wrong_scope.status_code == 403 and set(wrong_scope.json()) == {"detail"}
