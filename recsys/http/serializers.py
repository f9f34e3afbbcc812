"""What the API's serializers share."""
from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers


class InternalFieldsMixin:
    """Leaves out INTERNAL_FIELDS unless the serializer's context says `internal` (a write-scope token)."""

    INTERNAL_FIELDS: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("internal"):
            for name in self.INTERNAL_FIELDS:
                data.pop(name, None)
        return data



# What a JSON body's value must be for each kind of field (parsed JSON: str, int, float, bool, list, dict).
# DRF is lenient for form data: a CharField takes 5, an IntegerField "5", a BooleanField 0 or "yes". The
# schema says `type: string` / `integer` / `boolean`, so a JSON body is held to that.
_JSON_TYPES = (
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int,), "a whole number"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.CharField, (str,), "a string"),
    (serializers.ListField, (list,), "a list"),
    (serializers.DictField, (dict,), "an object"),
)


def _json_type_problem(field, value) -> str | None:
    if value is None:
        return None  # the field's allow_null decides
    for kind, types, wanted in _JSON_TYPES:
        if isinstance(field, kind):
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return f"must be {wanted}, not {_json_type_name(value)}."
            if isinstance(field, serializers.ListField) and field.child is not None:
                problems = (_json_type_problem(field.child, item) for item in value)
                return next((f"each item {p}" for p in problems if p), None)
            return None
    return None


def _json_type_name(value) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


class JsonBodyMixin:
    """For serializers of JSON bodies: each string, number, boolean, list or object field takes only that JSON
    type (a 400 naming the field otherwise), as the OpenAPI schema documents it."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for name, field in self.fields.items():
                if not field.read_only and name in data and (problem := _json_type_problem(field, data[name])):
                    errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
