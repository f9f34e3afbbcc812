"""Request input for the views: a serializer's verdict as `recsys.core.errors.InvalidInput`."""
from __future__ import annotations

from typing import Any

from rest_framework.serializers import Serializer

from recsys.core.errors import BadRequest, FieldError, InvalidInput


def validated(serializer_class: type[Serializer], data: Any, *, index: int | None = None) -> dict[str, Any]:
    """The serializer's validated data, or InvalidInput naming each bad field.

    `index`: 0 for a one-object JSON body, None (the default) for query parameters and list requests."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise InvalidInput.of(serializer.errors, index=index)
    return serializer.validated_data


def json_object(data: Any) -> dict[str, Any]:
    """`request.data` when it is a JSON object; BadRequest otherwise."""
    if not isinstance(data, dict):
        raise BadRequest("Send a JSON object.")
    return data


def query_flag(raw: str, name: str) -> bool:
    """A boolean query parameter as the schema documents it: `true` or `false`; anything else is a 400
    (not silently false)."""
    if raw in ("true", "false"):
        return raw == "true"
    raise InvalidInput([FieldError(index=None, field=name, message=f"{raw!r} is not true or false.")])
