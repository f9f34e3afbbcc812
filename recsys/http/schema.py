"""The OpenAPI schema's error answers, derived from each view (settings.REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]).

Every operation documents the errors it can give, in the one error envelope
(`recsys.core.errors`: `{"detail"}`, with `errors` for bad input), without decorating views by hand:

- 400: every operation under /api/ (the input guards refuse NUL characters and lone surrogates in any path,
  query or body), and elsewhere those with a body
- 401 and 403: views with authentication and permission classes (no or bad token; a token without the scope)
- 404: operations with path parameters (unknown object, or a path id the URL does not match)
- 413: operations with a request body (POST, PUT, PATCH over CURIO_MAX_BODY_BYTES)
- 429: views with throttles (with `Retry-After`)
- 503: every operation under /api/ or with a token needs the database (and a training run the broker)

A view's own `@extend_schema(responses=...)` wins for the codes it lists (e.g. 409); an error code it
lists without a body (`{503: None}`) gets the envelope. New views get all this automatically.

Answers list as required what is always sent: every field of a model serializer's answer but its
INTERNAL_FIELDS (left out for read tokens, recsys.http.serializers.InternalFieldsMixin). A serializer with
`whole_on_patch = True` is a PATCH body whose fields are required (not drf-spectacular's partial "Patched"
component); one with `refuses_unknown_fields = True` says `additionalProperties: false` (its view answers 400 to
a field it does not know). `postprocess` (a POSTPROCESSING_HOOK) documents the path ids' characters.
"""
from __future__ import annotations

import json

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance, is_list_serializer
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers

from recsys.core.limits import ID_MAX_LENGTH

# What recsys.http.guards lets through in a path id (user_id, item_id, `path_id_problem`): at most 128 characters,
# not blank, no control characters (and no lone surrogates, which no URL can carry as UTF-8 anyway).
PATH_ID_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
# A text field the server trims before it checks: something besides whitespace (unanchored, as JSON Schema reads it).
NOT_BLANK = r"\S"


class FieldErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="the row's position in a batch (or list "
                                     "field); 0 for a one-object body; null for query parameters")
    field = serializers.CharField(allow_blank=True, help_text='"" when the message is about the input as a whole')
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The API's error envelope (recsys.core.errors); some errors add keys (a failed run's `id` and `status`)."""

    detail = serializers.CharField(help_text="what went wrong, in one line a person can act on")
    errors = FieldErrorSerializer(many=True, required=False, help_text="each bad field or row (bad input only)")


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


ERROR = error("Error")  # for a view's own codes: `responses={200: ..., 409: ERROR}`

_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class ApiAutoSchema(AutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (direction == "request" and isinstance(field, serializers.CharField) and field.trim_whitespace
                and not field.allow_blank and isinstance(schema, dict) and schema.get("type") == "string"
                and not {"pattern", "enum", "format"} & set(schema)):
            schema["pattern"] = NOT_BLANK  # DRF trims the value first: " " is blank, and refused
        return schema

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        instance = force_instance(serializer)
        if type(instance).__doc__ is None:  # not a mixin's docstring as the component's description
            schema.pop("description", None)
        if direction != "response":
            if getattr(instance, "refuses_unknown_fields", False):
                schema["additionalProperties"] = False
            return schema
        optional = set(getattr(instance, "INTERNAL_FIELDS", ()))
        if isinstance(instance, serializers.ModelSerializer):  # a model field's default does not make it optional
            required = [name for name in schema.get("properties", {}) if name not in optional]
        else:
            required = [name for name in schema.get("required", []) if name not in optional]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        return schema

    def _get_request_for_media_type(self, serializer, direction="request"):
        instance = force_instance(serializer)
        if self.method == "PATCH" and getattr(instance, "whole_on_patch", False):
            self.method = "PUT"  # read as a whole body: no partial "Patched" component
            try:
                return super()._get_request_for_media_type(serializer, direction)
            finally:
                self.method = "PATCH"
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if is_list_serializer(instance) and isinstance(schema, dict):  # a batch: its size limits
            for attr, key in (("min_length", "minItems"), ("max_length", "maxItems")):
                if getattr(instance, attr, None) is not None:
                    schema[key] = getattr(instance, attr)
        return schema, required

    def _get_format_parameters(self):
        # DRF's `?format=` override is not part of the contract (the API answers JSON, /metrics its text): left
        # out, rather than documented with DRF's answers to it (404 for an unknown one, an empty one ignored).
        return []

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._error_codes().items():
            own = responses.get(code)
            if own is None or "content" not in own:  # not listed, or listed without a body
                responses[code] = self._get_response_for_code(error(description), code, direction=direction)
        for code in ("429", "503"):
            if code in responses:
                responses[code].setdefault("headers", {}).update(_RETRY_AFTER)
        return dict(sorted(responses.items()))

    def _error_codes(self) -> dict[str, str]:
        view, codes = self.view, {}
        guarded = bool(view.authentication_classes) and any(
            p is not permissions.AllowAny for p in view.permission_classes)
        api = self.path.startswith("/api/")  # behind the input guards (recsys/http/guards.py)
        if api or self.method in _BODY_METHODS:
            codes["400"] = "Bad input: parameters, body, or NUL characters / lone surrogates in the path or query"
        if guarded:
            codes["401"] = "No token, or an invalid or revoked one"
            codes["403"] = "The token's scope does not allow this request"
        if "{" in self.path:
            codes["404"] = "No such object (or a path id the route does not match)"
        if self.method in _BODY_METHODS:
            codes["413"] = ("The request body is over CURIO_MAX_BODY_BYTES (CURIO_PUBLIC_MAX_BODY_BYTES for read and"
                            " demo tokens)")
        if view.throttle_classes:
            codes["429"] = "Over the client's throttle rate"
        if api or guarded:  # the token is looked up in the database
            codes["503"] = "The database (or another service the operation needs) is unavailable; try again"
        return codes


def postprocess(result, generator, request, public):
    """POSTPROCESSING_HOOKS: each string path id (user_id, item_id) with the characters the guards let through;
    request bodies without `default`s (said in the description instead): a generator takes a field with a
    default as one the caller must send (openapi-typescript's defaultNonNullable), and the server fills it in."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            for field in component.get("properties", {}).values():
                if "default" in field:
                    default = json.dumps(field.pop("default"))
                    field["description"] = (field.get("description", "").rstrip(".") + f". Default: {default}.")
                    field["description"] = field["description"].lstrip(". ")
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else ():
                schema = parameter.get("schema", {})
                if parameter.get("in") == "path" and schema.get("type") == "string" and "pattern" not in schema:
                    schema.update(pattern=PATH_ID_PATTERN, maxLength=ID_MAX_LENGTH)
    return result
