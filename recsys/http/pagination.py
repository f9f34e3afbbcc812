"""Limit/offset pagination that refuses what it cannot read.

DRF's LimitOffsetPagination quietly falls back to its defaults for `?limit=abc` or `?offset=-5`, so a typo
looks like the first page. Here a limit or offset that is not a whole number in range is a 400 naming the
parameter; a limit over `max_limit` is still capped (documented).
"""
from __future__ import annotations

from rest_framework import pagination

from recsys.core.errors import FieldError, InvalidInput


def whole_number(raw: str, name: str, *, minimum: int) -> int:
    if raw.isascii() and raw.isdigit() and int(raw) >= minimum:
        return int(raw)
    message = f"{raw!r} is not a whole number of at least {minimum}."
    raise InvalidInput([FieldError(index=None, field=name, message=message)])


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        limit = whole_number(raw, self.limit_query_param, minimum=1)
        return min(limit, self.max_limit) if self.max_limit else limit

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        return 0 if raw is None else whole_number(raw, self.offset_query_param, minimum=0)

    def get_schema_operation_parameters(self, view):
        minimum = {self.limit_query_param: 1, self.offset_query_param: 0}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = minimum[parameter["name"]]
        return parameters
