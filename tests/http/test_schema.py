"""The OpenAPI schema documents every error answer (recsys/http/schema.py), in the error envelope.

The served instance is checked end to end by tests/http/test_schemathesis.py; these are the quick checks."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, StaticHTMLRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.clients.auth import READ, WRITE

ERROR_REF = {"$ref": "#/components/schemas/Error"}
METHODS = {"get", "post", "put", "patch", "delete"}


def _schema(patterns=None) -> dict:
    return SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)


def _operations(schema):
    for route, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield route, method.upper(), operation


def _body_schema(response: dict) -> dict:
    return response["content"]["application/json"]["schema"]


def test_spectacular_validate_is_warning_free():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)  # raises on a warning or an error
    assert out.getvalue().startswith("openapi:")


def test_every_api_operation_documents_its_errors_in_the_envelope():
    schema = _schema()
    operations = [op for op in _operations(schema) if op[0].startswith("/api/v1/")]
    assert len(operations) > 40
    for route, method, operation in operations:
        expected = {"400", "401", "403", "429", "503"}
        if "{" in route:
            expected.add("404")
        if method in {"POST", "PUT", "PATCH"}:
            expected.add("413")
        responses = operation["responses"]
        assert expected <= set(responses), (method, route, sorted(responses))
        for code, response in responses.items():
            if code >= "400":
                body = _body_schema(response)
                assert body == ERROR_REF or body == {"$ref": "#/components/schemas/RowErrors"}, (method, route, code)
        for code in ("429", "503"):
            assert "Retry-After" in responses[code]["headers"]
    envelope = schema["components"]["schemas"]["Error"]
    assert envelope["required"] == ["detail"] and set(envelope["properties"]) == {"detail", "errors"}
    field_error = schema["components"]["schemas"]["FieldError"]
    assert field_error["properties"]["index"]["nullable"] is True  # null for query parameters
    assert "minLength" not in field_error["properties"]["field"]  # "" for the input as a whole


def test_view_specific_errors_are_documented():
    responses = {(m, r): op["responses"] for r, m, op in _operations(_schema())}
    assert "409" in responses["POST", "/api/v1/users/{user_id}/feedback/"]  # feedback_id names other feedback
    assert "409" in responses["POST", "/api/v1/model-versions/{version_id}/activate/"]
    assert _body_schema(responses["POST", "/api/v1/training-runs/"]["503"]) == ERROR_REF  # broker down


def test_a_new_view_gets_its_error_answers_without_decoration():
    class ThingView(APIView):
        required_scope = {"GET": READ, "POST": WRITE}

        def get(self, request, thing_id: str):
            return Response({})

        def post(self, request, thing_id: str):
            return Response({})

    class OpenView(APIView):  # no token needed: no 401/403
        permission_classes = [AllowAny]
        authentication_classes = []
        throttle_classes = []

        def get(self, request):
            return Response({})

    schema = _schema([path("api/v1/things/<str:thing_id>/", ThingView.as_view()),
                      path("api/v1/open/", OpenView.as_view())])
    thing = schema["paths"]["/api/v1/things/{thing_id}/"]
    assert {"400", "401", "403", "404", "429", "503"} <= set(thing["get"]["responses"])
    assert "413" not in thing["get"]["responses"] and "413" in thing["post"]["responses"]
    assert set(schema["paths"]["/api/v1/open/"]["get"]["responses"]) == {"200", "400", "503"}


@pytest.mark.parametrize("route", ["/api/v1/events/"])
def test_documented_examples_are_bodies_the_api_takes(route):
    """An example of a list body is a list of rows (drf-spectacular wraps a row example in its list)."""
    body = _schema()["paths"][route]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["type"] == "array"
    for example in body["examples"].values():
        assert isinstance(example["value"], list)
        assert all(isinstance(row, dict) and {"user_id", "item_id", "type"} <= set(row) for row in example["value"])


def test_views_outside_the_api_prefix_get_their_error_answers_too():
    class MetricsLikeView(APIView):  # a token view outside /api/ (e.g. an operator endpoint)
        required_scope = {"GET": WRITE}

        def get(self, request):
            return Response({})

    class TwoFormatsView(MetricsLikeView):
        renderer_classes = [JSONRenderer, StaticHTMLRenderer]

    schema = _schema([path("ops/thing", MetricsLikeView.as_view()), path("ops/formats", TwoFormatsView.as_view())])
    assert "parameters" not in schema["paths"]["/ops/formats"]["get"]  # DRF's ?format= is not documented
    responses = schema["paths"]["/ops/thing"]["get"]["responses"]
    assert set(responses) == {"200", "401", "403", "429", "503"}
