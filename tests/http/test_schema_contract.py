"""The schema's components are the answers the API gives (docs/api.md, "Generate a client").

Quick, in-process checks beside tests/http/test_schemathesis.py (which fuzzes a served instance) and
tests/http/test_generated_clients.py (which drives generated clients): served lists, exports, runs and rules
validate against their components; every example in the schema validates against its own schema; no answer
carries a path on the server; both `Token` and `Bearer` authenticate.
"""
from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from recsys.models import ModelVersion, TrainingRun
from tests.serving_world import build_shop, reset_serving_caches, train_and_activate


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _json_schema(node):
    """OpenAPI 3.0 to JSON Schema: `nullable: true` becomes "or null" (refs stay as they are)."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _json_schema(v) for k, v in node.items() if k not in ("readOnly", "writeOnly", "format")}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def _validator(schema: dict, ref: dict) -> jsonschema.Draft7Validator:
    root = {"components": _json_schema(copy.deepcopy(schema["components"])), **_json_schema(ref)}
    return jsonschema.Draft7Validator(root)


def _check(schema: dict, component: str, body) -> None:
    errors = sorted(_validator(schema, {"$ref": f"#/components/schemas/{component}"}).iter_errors(body), key=str)
    assert not errors, [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]]


def test_the_list_item_is_typed(schema):
    components = schema["components"]["schemas"]
    item = components["ListItem"]
    assert set(item["required"]) == {"item_id", "title", "category", "url", "image_url", "price", "rank", "score",
                                     "source", "reasons", "annotations"}  # `trace` only with explain=full
    assert components["SourceEnum"]["enum"] == ["model", "pinned", "boosted", "popular", "new"]
    assert components["ReasonTypeEnum"]["enum"] == ["history", "similar", "content", "popular", "curated"]
    assert set(components["RuleImpact"]["properties"]) >= {"exposed", "holdout", "difference", "verdict"}
    assert components["RuleImpact"]["properties"]["exposed"] == components["RuleImpact"]["properties"]["holdout"] \
        | {"description": "shoppers served with the rule"}


def test_requests_have_their_own_components_without_read_only_fields_or_refused_defaults(schema):
    components = schema["components"]["schemas"]
    pin = components["PinRuleRequest"]
    assert not {"id", "kind", "status", "created_by", "updated_by", "created_at", "updated_at"} & set(pin["properties"])
    assert set(pin["required"]) == {"item_id", "position"} and pin["additionalProperties"] is False
    assert "required" not in components["PatchedPinRuleRequest"]  # PATCH: any subset
    assert components["ConsentInRequest"]["required"] == ["personalization_consent"]  # PATCH with its one field
    for name, component in components.items():
        if name.endswith("Request"):
            for field, spec in component["properties"].items():
                assert "default" not in spec, (name, field)  # generators would make the field required
    for route, item in schema["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                assert parameter["schema"].get("default") != "", (route, parameter["name"])


def test_no_server_path_in_the_schema_or_in_answers(schema, write_api, read_api, tmp_path):
    assert "artifact_path" not in json.dumps(schema)
    run = TrainingRun.objects.create(status=TrainingRun.Status.FAILED,
                                     error="OSError: cannot write /srv/curio/models/7/x.npy\n\nTraceback ...")
    ModelVersion.objects.create(run=run, kind="als", artifact_path=str(tmp_path / "7"))
    for api in (write_api, read_api):
        for path in ("/api/v1/training-runs/", f"/api/v1/training-runs/{run.pk}/", "/api/v1/model-versions/"):
            text = api.get(path).content.decode()
            assert str(tmp_path) not in text and "/srv/curio" not in text and "Traceback" not in text, (path, text)
    assert write_api.get(f"/api/v1/training-runs/{run.pk}/").json()["error"] == "OSError: cannot write <path>"


def test_served_answers_validate_against_their_components(schema, write_api, tmp_path, settings):
    settings.MODEL_DIR = tmp_path / "models"
    build_shop()
    train_and_activate(settings.MODEL_DIR)
    reset_serving_caches()
    pin = write_api.post("/api/v1/curation/pins/", {"item_id": "games-3", "position": 1, "holdout_share": 0.1,
                                                    "segment": {"user_ids": ["books-fan-0"]}}, format="json")
    assert pin.status_code == 201, pin.content
    _check(schema, "PinRule", pin.json())
    label = write_api.post("/api/v1/curation/annotations/", {"item_id": "books-2", "label": "Staff pick"},
                           format="json")
    _check(schema, "AnnotationRule", label.json())
    block = write_api.post("/api/v1/curation/blocks/", {"item_category": "garden"}, format="json")
    _check(schema, "BlockRule", block.json())
    _check(schema, "PaginatedPinRuleList", write_api.get("/api/v1/curation/pins/").json())
    _check(schema, "RuleImpact", write_api.get(f"/api/v1/curation/pins/{pin.json()['id']}/impact/").json())

    lists = {
        "personal": write_api.get("/api/v1/users/books-fan-0/recommendations/?explain=full&limit=5"),
        "similar": write_api.get("/api/v1/items/books-1/similar/?user_id=books-fan-0"),
        "popular": write_api.get("/api/v1/popular/?raw=true&placement=home"),
        "basket": write_api.post("/api/v1/recommendations/basket/", {"item_ids": ["books-1"]}, format="json"),
    }
    for name, response in lists.items():
        assert response.status_code == 200, (name, response.content)
        _check(schema, "ListResponse", response.json())
    personal = lists["personal"].json()["items"]
    assert {i["source"] for i in personal} >= {"pinned"} and all("trace" in i for i in personal)
    batch = write_api.post("/api/v1/recommendations/batch/", {"user_ids": ["books-fan-0", "nobody"]}, format="json")
    _check(schema, "BatchResponse", batch.json())

    write_api.post("/api/v1/events/", [{"user_id": "books-fan-0", "item_id": "books-1", "type": "click",
                                        "recommendation_id": lists["personal"].json()["recommendation_id"]}],
                   format="json")
    feedback = write_api.post("/api/v1/users/books-fan-0/feedback/", {"item_id": "books-2", "type": "report"},
                              format="json")
    _check(schema, "FeedbackOut", feedback.json())
    from recsys.analytics.impression_buffer import buffer

    buffer().flush()
    export = write_api.get("/api/v1/users/books-fan-0/data/").json()
    assert export["events"] and export["impressions"] and export["feedback"]
    _check(schema, "ShopperExport", export)
    _check(schema, "Item", write_api.get("/api/v1/items/books-1/").json())


def test_a_new_item_window_is_capped(write_api):
    response = write_api.post("/api/v1/curation/diversity/", {"max_per_category": 2, "min_new_items": 1,
                                                               "new_item_days": 36_501}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "new_item_days"


def test_a_segment_emptied_by_erasure_is_answered_as_it_is(schema, write_api):
    from recsys.models import Shopper

    Shopper.objects.create(user_id="only-one")
    block = write_api.post("/api/v1/curation/blocks/", {"item_category": "garden",
                                                        "segment": {"user_ids": ["only-one"]}}, format="json")
    assert write_api.delete("/api/v1/users/only-one/").status_code == 204
    answer = write_api.get(f"/api/v1/curation/blocks/{block.json()['id']}/").json()
    assert answer["segment"] == {"user_ids": []}  # lists nobody now
    _check(schema, "BlockRule", answer)


def test_every_example_validates_against_its_schema(schema):
    checked = 0
    for route, item in schema["paths"].items():
        for method, operation in item.items():
            bodies = [("request", operation.get("requestBody", {}).get("content", {}).get("application/json"))]
            bodies += [(code, r.get("content", {}).get("application/json"))
                       for code, r in operation.get("responses", {}).items()]
            for where, media in bodies:
                for name, example in ((media or {}).get("examples") or {}).items():
                    errors = list(_validator(schema, media["schema"]).iter_errors(example["value"]))
                    assert not errors, (method, route, where, name, [e.message for e in errors[:3]])
                    checked += 1
    assert checked >= 25


@pytest.mark.parametrize("prefix", ["Token", "Bearer", "bearer"])
def test_token_and_bearer_both_authenticate(db, prefix):
    from rest_framework.test import APIClient

    from recsys.clients.services import api_client_create

    _, key = api_client_create(name="bearer-check", scope="read")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"{prefix} {key}")
    assert api.get("/api/v1/popular/").status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"{prefix} not-a-key")
    assert api.get("/api/v1/popular/").status_code == 401


def test_the_security_scheme_is_http_bearer(schema):
    [scheme] = schema["components"]["securitySchemes"].values()
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer" and "Token" in scheme["description"]
