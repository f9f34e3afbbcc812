"""What the API's serializers share."""
from __future__ import annotations

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


class JsonBooleanField(serializers.BooleanField):
    """A JSON body's boolean: `true` or `false` only. DRF's BooleanField also takes 0, 1, "yes", "on"...,
    which the schema (type: boolean) says are wrong; a query parameter's text keeps DRF's field."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
