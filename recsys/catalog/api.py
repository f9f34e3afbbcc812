"""Shoppers in the catalog: merging an anonymous session into the logged-in shopper.

A thin view over recsys.catalog.services.shopper_merge; errors are recsys.errors exceptions,
answered by recsys.http.exception_handler.
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.catalog.limits import ID_MAX_LENGTH
from recsys.catalog.services import shopper_merge
from recsys.clients.auth import WRITE
from recsys.errors import BadRequest
from recsys.http.inputs import validated
from recsys.http.serializers import JsonBodyMixin


class MergeBody(JsonBodyMixin, serializers.Serializer):
    from_user_id = serializers.CharField(max_length=ID_MAX_LENGTH)


class MergeView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(request=MergeBody, responses=inline_serializer("MergedShopper", {
        "user_id": serializers.CharField(), "personalization_consent": serializers.BooleanField(),
        "merged_from": serializers.CharField(), "moved_events": serializers.IntegerField(),
        "events": serializers.IntegerField()}),
        summary="Move an anonymous visitor's events to this shopper (idempotent)")
    def post(self, request, user_id: str):
        p = validated(MergeBody, request.data if isinstance(request.data, dict) else {})
        if p["from_user_id"] == user_id:
            raise BadRequest("from_user_id must differ from the shopper's user_id.")
        return Response(shopper_merge(user_id=user_id, from_user_id=p["from_user_id"]))  # ShopperNotFound: 404
