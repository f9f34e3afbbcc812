"""Shoppers' control over their data: consent, export, erasure, and merging a session into a shopper. Thin
views over recsys.privacy.services.

Errors are recsys.core.errors exceptions (an unknown shopper is `ShopperNotFound`, 404), answered by
recsys.http.exception_handler.
"""
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.analytics.models import RuleImpression
from recsys.catalog.models import EventType, Shopper
from recsys.clients.auth import WRITE
from recsys.core.errors import BadRequest
from recsys.core.limits import ID_MAX_LENGTH
from recsys.feedback.models import Feedback, FeedbackType
from recsys.http.inputs import json_object, validated
from recsys.http.serializers import JsonBodyMixin
from recsys.privacy.services import shopper_erase, shopper_export, shopper_merge, shopper_set_consent
from recsys.serving.contract import SOURCES


class ShopperSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shopper
        fields = ["user_id", "personalization_consent", "created_at", "updated_at"]


class ConsentInSerializer(JsonBodyMixin, serializers.Serializer):
    whole_on_patch = True  # the one field is required (recsys.http.schema): not a partial "Patched" body

    personalization_consent = serializers.BooleanField(
        help_text="false: lists stop being personalized and events are left out of training."
    )


class ExportedEventSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    item_id = serializers.CharField()
    type = serializers.ChoiceField(EventType.choices)
    value = serializers.FloatField()
    timestamp = serializers.DateTimeField()
    recommendation_id = serializers.CharField(allow_blank=True, help_text='"" when none was sent')
    created_at = serializers.DateTimeField()


class ExportedFeedbackSerializer(serializers.Serializer):
    item_id = serializers.CharField()
    type = serializers.ChoiceField(FeedbackType.choices)
    comment = serializers.CharField(allow_blank=True)
    recommendation_id = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(Feedback.Status.choices)
    created_at = serializers.DateTimeField()


class ExportedImpressionSerializer(serializers.Serializer):
    """An item shown to the shopper at a position of a served list."""

    recommendation_id = serializers.CharField()
    position = serializers.IntegerField()
    item_id = serializers.CharField()
    source = serializers.ChoiceField(SOURCES, help_text="what put it there (as the list item's source)")
    rule_id = serializers.IntegerField(allow_null=True, help_text="the curation rule that placed it")
    placement = serializers.CharField(allow_blank=True)
    list_type = serializers.CharField(allow_blank=True)
    model_version = serializers.IntegerField(allow_null=True)
    is_control = serializers.BooleanField(help_text="served without curation (the randomized control)")
    created_at = serializers.DateTimeField()


class ExportedRuleImpressionSerializer(serializers.Serializer):
    """A position a curation rule touched: the shopper counted in that rule's experiment."""

    rule_id = serializers.IntegerField()
    arm = serializers.ChoiceField(RuleImpression.Arm.choices)
    recommendation_id = serializers.CharField()
    position = serializers.IntegerField()
    item_id = serializers.CharField()
    created_at = serializers.DateTimeField()


class ShopperExportSerializer(serializers.Serializer):
    """Everything stored about a shopper (the answer to an access request)."""

    user_id = serializers.CharField()
    personalization_consent = serializers.BooleanField()
    created_at = serializers.DateTimeField(allow_null=True, help_text="null: only impressions are stored")
    updated_at = serializers.DateTimeField(allow_null=True)
    merged_ids = serializers.ListField(child=serializers.CharField(), help_text="anonymous ids merged into it")
    events = ExportedEventSerializer(many=True)
    feedback = ExportedFeedbackSerializer(many=True)
    impressions = ExportedImpressionSerializer(many=True)
    rule_impressions = ExportedRuleImpressionSerializer(many=True)
    exported_at = serializers.DateTimeField()


class ShopperView(APIView):
    required_scope = {"PATCH": WRITE, "DELETE": WRITE}

    @extend_schema(summary="Set a shopper's personalization consent", request=ConsentInSerializer,
                   responses={200: ShopperSerializer}, examples=[
                       OpenApiExample("Opt out of personalization", request_only=True,
                                      value={"personalization_consent": False}),
                       OpenApiExample("The shopper", response_only=True, value={
                           "user_id": "u-481", "personalization_consent": False,
                           "created_at": "2026-04-02T18:11:00Z", "updated_at": "2026-05-01T09:30:00Z"})])
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
    throttle_scope = "export"  # its own rate: CURIO_THROTTLE_EXPORT

    @extend_schema(summary="Export everything stored about a shopper (write scope)",
                   responses={200: ShopperExportSerializer})
    def get(self, request, user_id: str):
        return Response(shopper_export(user_id=user_id))


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
