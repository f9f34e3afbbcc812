"""Shoppers' control over their data: consent, export, erasure. Thin views over recsys.privacy.services.

Errors are recsys.errors exceptions (an unknown shopper is `ShopperNotFound`, 404), answered by
recsys.http.exception_handler.
"""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.catalog.models import Shopper
from recsys.clients.auth import WRITE
from recsys.http.inputs import json_object, validated
from recsys.http.serializers import JsonBodyMixin
from recsys.privacy.services import shopper_erase, shopper_export, shopper_set_consent


class ShopperSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shopper
        fields = ["user_id", "personalization_consent", "created_at", "updated_at"]


class ConsentInSerializer(JsonBodyMixin, serializers.Serializer):
    personalization_consent = serializers.BooleanField(
        help_text="false: lists stop being personalized and events are left out of training."
    )


class ShopperView(APIView):
    required_scope = {"PATCH": WRITE, "DELETE": WRITE}

    @extend_schema(summary="Set a shopper's personalization consent", request=ConsentInSerializer,
                   responses={200: ShopperSerializer})
    def patch(self, request, user_id: str):
        data = validated(ConsentInSerializer, json_object(request.data), index=0)
        shopper = shopper_set_consent(user_id=user_id, consent=data["personalization_consent"])
        return Response(ShopperSerializer(shopper).data)

    @extend_schema(
        summary="Erase a shopper (events, feedback, impressions, rows in every retained model version)",
        responses={204: None},
    )
    def delete(self, request, user_id: str):
        shopper_erase(user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShopperDataView(APIView):
    required_scope = {"GET": WRITE}

    @extend_schema(summary="Export everything stored about a shopper (write scope)",
                   responses={200: inline_serializer("ShopperExport", {
                       "user_id": serializers.CharField(), "personalization_consent": serializers.BooleanField(),
                       "events": serializers.ListField(child=serializers.DictField()),
                       "feedback": serializers.ListField(child=serializers.DictField()),
                       "impressions": serializers.ListField(child=serializers.DictField()),
                   })})
    def get(self, request, user_id: str):
        return Response(shopper_export(user_id=user_id))
