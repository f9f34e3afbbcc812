"""Recommendation lists: thin views over recsys.serving.lists.

Every list view validates its parameters, builds a `ListRequest` and calls `serve_lists`.
Lists need a read-scope token; `?explain=full` adds the engine trace for write-scope tokens;
`raw=true` (query, or body field for POSTs) answers the algorithm's list without curation rules, except
blocks (safety decisions: they apply to every list, for every token).
Errors are raised as recsys.core.errors exceptions and answered by recsys.http.exception_handler.
"""
from __future__ import annotations

import re
import time

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.clients.auth import READ, WRITE, shopper_verified
from recsys.core.errors import NotFound
from recsys.core.limits import CATEGORY_MAX_LENGTH, PLACEMENT_PATTERN
from recsys.core.limits import ID_MAX_LENGTH as ID_MAX
from recsys.http.inputs import validated
from recsys.http.schema import NOT_BLANK
from recsys.http.serializers import JsonBodyMixin
from recsys.ops import metrics
from recsys.serving import examples
from recsys.serving.contract import BatchResponseSerializer, ListResponseSerializer
from recsys.serving.lists import BASKET, BATCH, PERSONAL, POPULAR, SIMILAR, ListRequest, UnknownItem, serve_lists


class ListParams(serializers.Serializer):
    # Omitted text parameters are "" inside; `default=str` (a callable) keeps that "" out of the OpenAPI schema,
    # where a default the field itself refuses (blank) would be sent by generated clients.
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)
    placement = serializers.RegexField(PLACEMENT_PATTERN, required=False, default=str, error_messages={
        "invalid": "placement must be a short slug: lowercase letters, digits, '-' or '_', up to 64 characters."})
    category = serializers.CharField(max_length=CATEGORY_MAX_LENGTH, required=False, default=str)
    include_seen = serializers.BooleanField(required=False, default=False)
    explain = serializers.ChoiceField(choices=["full"], required=False)
    raw = serializers.BooleanField(required=False, default=False)


class SimilarParams(ListParams):
    user_id = serializers.CharField(max_length=ID_MAX, required=False, default=str)


# --- the fast path: keep it next to the serializers it shadows (tests/serving/test_serving_params.py) ---
_PLACEMENT_PATTERN = re.compile(PLACEMENT_PATTERN)
_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_TEXT_MAX = {"category": CATEGORY_MAX_LENGTH, "user_id": ID_MAX}


def fast_list_params(query: dict, *, with_user_id: bool = False) -> dict | None:
    """The usual, valid list query parsed by hand: 5 us, where DRF's serializer takes 0.40 ms of a personal list's
    4.4 ms of worker CPU (timeit and bench/bench_serving.py, 2026-12-07).
    Anything unusual answers None and goes through the serializer (`ListParams` / `SimilarParams`),
    which gives the same values or the 400 errors; tests check both agree."""
    out = {"limit": 10, "placement": "", "category": "", "include_seen": False, "raw": False}
    if with_user_id:
        out["user_id"] = ""
    for key, value in query.items():
        if key == "limit":
            if not (value.isascii() and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= 100):
                return None
            out["limit"] = int(value)
        elif key == "placement" or key in _TEXT_MAX and (key != "user_id" or with_user_id):
            if not value or value != value.strip() or not value.isprintable():
                return None
            if (key == "placement" and not _PLACEMENT_PATTERN.match(value)) or len(value) > _TEXT_MAX.get(key, 64):
                return None
            out[key] = value
        elif key in ("include_seen", "raw"):
            if value not in _BOOLS:
                return None
            out[key] = _BOOLS[value]
        elif key == "explain":
            if value != "full":
                return None
            out[key] = value
        # any other parameter is ignored, as the serializer ignores it
    return out


class BasketBody(JsonBodyMixin, ListParams):  # a JSON body: "raw": true, not "1" or "yes"
    item_ids = serializers.ListField(child=serializers.CharField(max_length=ID_MAX), min_length=1, max_length=100)
    user_id = serializers.CharField(max_length=ID_MAX, required=False, default=str)


class BatchBody(JsonBodyMixin, ListParams):
    user_ids = serializers.ListField(child=serializers.CharField(max_length=ID_MAX), min_length=1)

    def validate_user_ids(self, value):
        if len(value) > settings.SERVING_BATCH_LIMIT:
            raise serializers.ValidationError(f"at most {settings.SERVING_BATCH_LIMIT} user_ids per batch.")
        return value

    def validate(self, attrs):
        items, cap = len(attrs["user_ids"]) * attrs["limit"], settings.BATCH_MAX_ITEMS
        if items > cap:
            raise serializers.ValidationError(
                f"{len(attrs['user_ids'])} user_ids x limit {attrs['limit']} = {items:,} items, over the "
                f"{cap:,} items a batch may answer (CURIO_BATCH_MAX_ITEMS): send fewer shoppers or a lower limit.")
        return attrs


LIST_RESPONSE = ListResponseSerializer
LIST_PARAMS = [
    OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100}, description="1..100, default 10"),
    OpenApiParameter("placement", {"type": "string", "pattern": PLACEMENT_PATTERN},
                     description="list name such as home (a short slug)"),
    OpenApiParameter("category", {"type": "string", "pattern": NOT_BLANK, "maxLength": CATEGORY_MAX_LENGTH},
                     description="only items of this category"),
    OpenApiParameter("explain", str, enum=["full"], description="write scope: add the engine trace"),
    OpenApiParameter("raw", bool, description="the algorithm's list: filters (availability, seen, category, "
                                              "excluded) and blocks, but no other curation rules; the response "
                                              "says \"raw\": true"),
]


def _list_params(request, serializer_cls=None) -> dict:
    query = _query(request)
    similar = serializer_cls is SimilarParams
    return fast_list_params(query, with_user_id=similar) or validated(serializer_cls or ListParams, query)


def _query(request) -> dict:
    # Repeated parameters: the last one wins, as in Django's QueryDict.get.
    return {key: request.query_params.get(key) for key in request.query_params}


class _ListView(APIView):
    required_scope = {"GET": READ, "POST": READ}  # list requests are reads, whatever the method

    def _explain(self, params: dict) -> bool:
        return params.get("explain") == "full" and self.request.user.scope == WRITE

    @staticmethod
    def _serve(requests: list[ListRequest]) -> list[dict]:
        started = time.perf_counter()
        try:
            bodies = serve_lists(requests)
        except UnknownItem as exc:
            raise NotFound(f"Unknown item {exc.item_id!r}.") from exc
        if any(it["source"] == "model" for body in bodies for it in body["items"]):
            source = "model"
        else:
            source = "popular" if any(body["items"] for body in bodies) else "empty"
        metrics.list_served(requests[0].list_type, source, time.perf_counter() - started)
        return bodies


class PersonalListView(_ListView):
    @extend_schema(parameters=LIST_PARAMS + [OpenApiParameter("include_seen", bool)], responses=LIST_RESPONSE,
                   summary="A shopper's personal list", examples=examples.PERSONAL)
    def get(self, request, user_id: str):
        p = _list_params(request)
        [body] = self._serve([ListRequest(PERSONAL, p["limit"], p["placement"], p["category"], user_id,
                                          p["include_seen"], explain_full=self._explain(p), raw=p["raw"],
                                          shopper_verified=shopper_verified(request, user_id))])
        return Response(body)


class SimilarListView(_ListView):
    @extend_schema(parameters=LIST_PARAMS + [OpenApiParameter(
                       "user_id", {"type": "string", "pattern": NOT_BLANK, "maxLength": ID_MAX},
                       description="leave out what this shopper already has")],
                   responses=LIST_RESPONSE, examples=examples.SIMILAR,
                   summary="Items similar to an item (leaving out what user_id already has)")
    def get(self, request, item_id: str):
        p = _list_params(request, SimilarParams)
        [body] = self._serve([ListRequest(SIMILAR, p["limit"], p["placement"], p["category"], p["user_id"],
                                          False, (item_id,), self._explain(p), p["raw"],
                                          shopper_verified=shopper_verified(request, p["user_id"]))])
        return Response(body)


class PopularListView(_ListView):
    @extend_schema(parameters=LIST_PARAMS, responses=LIST_RESPONSE, summary="Popular items (time-decayed)",
                   examples=examples.POPULAR)
    def get(self, request):
        p = _list_params(request)
        [body] = self._serve([ListRequest(POPULAR, p["limit"], p["placement"], p["category"],
                                          explain_full=self._explain(p), raw=p["raw"])])
        return Response(body)


class BasketListView(_ListView):
    @extend_schema(request=BasketBody, responses=LIST_RESPONSE, summary="Items that go with a cart",
                   examples=examples.BASKET)
    def post(self, request):
        p = validated(BasketBody, request.data if isinstance(request.data, dict) else {"item_ids": None})
        [body] = self._serve([ListRequest(BASKET, p["limit"], p["placement"], p["category"], p["user_id"], False,
                                          tuple(dict.fromkeys(p["item_ids"])), self._explain(p), p["raw"],
                                          shopper_verified=shopper_verified(request, p["user_id"]))])
        return Response(body)


class BatchListView(_ListView):
    throttle_scope = "batch"  # its own rate (CURIO_THROTTLE_BATCH), counted per shopper as well

    @staticmethod
    def throttle_cost(request) -> int:
        """A batch counts as its number of shoppers for the client's throttle and the batch rate."""
        data = request.data
        user_ids = data.get("user_ids") if isinstance(data, dict) else None
        return len(user_ids) if isinstance(user_ids, list) else 1

    @extend_schema(request=BatchBody, responses=BatchResponseSerializer, summary="Lists for many shoppers",
                   examples=examples.BATCH)
    def post(self, request):
        p = validated(BatchBody, request.data if isinstance(request.data, dict) else {"user_ids": None})
        explain = self._explain(p)
        results = self._serve([ListRequest(BATCH, p["limit"], p["placement"], p["category"], user_id,
                                           p["include_seen"], explain_full=explain, raw=p["raw"],
                                           shopper_verified=shopper_verified(request, user_id))
                               for user_id in p["user_ids"]])
        return Response({"results": results})
