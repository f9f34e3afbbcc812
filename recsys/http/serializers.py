"""What the API's serializers share."""
from __future__ import annotations


class InternalFieldsMixin:
    """Leaves out INTERNAL_FIELDS unless the serializer's context says `internal` (a write-scope token)."""

    INTERNAL_FIELDS: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("internal"):
            for name in self.INTERNAL_FIELDS:
                data.pop(name, None)
        return data
