"""Shoppers' control over their data: consent, export, erasure, feedback. Thin views over
recsys.privacy.services and recsys.feedback.services."""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.catalog.limits import ID_MAX_LENGTH
from recsys.catalog.models import Shopper
from recsys.feedback.models import FeedbackType
from recsys.feedback.services import COMMENT_MAX_LENGTH, ItemNotFound, feedback_create
from recsys.ingest.validation import RECOMMENDATION_ID_MAX_LENGTH
from recsys.privacy.services import ShopperNotFound, shopper_erase, shopper_export, shopper_set_consent


class ShopperSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shopper
        fields = ["user_id", "personalization_consent", "created_at", "updated_at"]


class ConsentInSerializer(serializers.Serializer):
    personalization_consent = serializers.BooleanField(
        help_text="false: lists stop being personalized and events are left out of training."
    )


class FeedbackInSerializer(serializers.Serializer):
    item_id = serializers.CharField(max_length=ID_MAX_LENGTH)
    type = serializers.ChoiceField(choices=FeedbackType.choices)
    comment = serializers.CharField(max_length=COMMENT_MAX_LENGTH, required=False, allow_blank=True, default="")
    recommendation_id = serializers.CharField(max_length=RECOMMENDATION_ID_MAX_LENGTH, required=False,
                                              allow_blank=True, default="",
                                              help_text="The list's recommendation_id, for attribution.")


def _invalid(errors: dict) -> Response:
    rows = []
    for field, messages in errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            rows.append({"index": 0, "field": "" if field == "non_field_errors" else field, "message": str(message)})
    return Response({"errors": rows}, status=status.HTTP_400_BAD_REQUEST)


def _validated(serializer_class, request):
    if not isinstance(request.data, dict):
        return None, Response({"detail": "Send a JSON object."}, status=status.HTTP_400_BAD_REQUEST)
    serializer = serializer_class(data=request.data)
    if not serializer.is_valid():
        return None, _invalid(serializer.errors)
    return serializer.validated_data, None


def _not_found(user_id: str) -> Response:
    return Response({"detail": f"No data is stored for shopper {user_id!r}."}, status=status.HTTP_404_NOT_FOUND)


class ShopperView(APIView):
    required_scope = {"PATCH": "write", "DELETE": "write"}

    @extend_schema(summary="Set a shopper's personalization consent", request=ConsentInSerializer,
                   responses={200: ShopperSerializer})
    def patch(self, request, user_id: str):
        data, error = _validated(ConsentInSerializer, request)
        if error is not None:
            return error
        shopper = shopper_set_consent(user_id=user_id, consent=data["personalization_consent"])
        return Response(ShopperSerializer(shopper).data)

    @extend_schema(
        summary="Erase a shopper (events, feedback, impressions, rows in every retained model version)",
        responses={204: None, 404: inline_serializer("NotFound", {"detail": serializers.CharField()})},
    )
    def delete(self, request, user_id: str):
        try:
            shopper_erase(user_id=user_id)
        except ShopperNotFound:
            return _not_found(user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShopperDataView(APIView):
    required_scope = {"GET": "write"}

    @extend_schema(summary="Export everything stored about a shopper (write scope)",
                   responses={200: inline_serializer("ShopperExport", {
                       "user_id": serializers.CharField(), "personalization_consent": serializers.BooleanField(),
                       "events": serializers.ListField(child=serializers.DictField()),
                       "feedback": serializers.ListField(child=serializers.DictField()),
                       "impressions": serializers.ListField(child=serializers.DictField()),
                   })})
    def get(self, request, user_id: str):
        try:
            return Response(shopper_export(user_id=user_id))
        except ShopperNotFound:
            return _not_found(user_id)


class FeedbackView(APIView):
    required_scope = "write"

    @extend_schema(
        summary="Send feedback on an item: not_interested (hidden from this shopper) or report (reviewed by curators)",
        request=FeedbackInSerializer,
        responses={201: inline_serializer("FeedbackOut", {
            "id": serializers.IntegerField(), "item_id": serializers.CharField(), "type": serializers.CharField(),
            "status": serializers.CharField(), "created_at": serializers.DateTimeField()})},
    )
    def post(self, request, user_id: str):
        data, error = _validated(FeedbackInSerializer, request)
        if error is not None:
            return error
        try:
            feedback, _ = feedback_create(user_id=user_id, item_id=data["item_id"], type=data["type"],
                                          comment=data["comment"], recommendation_id=data["recommendation_id"])
        except ItemNotFound:
            return _invalid({"item_id": f"Unknown item {data['item_id']!r}."})
        return Response({"id": feedback.pk, "item_id": data["item_id"], "type": feedback.type,
                         "status": feedback.status, "created_at": feedback.created_at},
                        status=status.HTTP_201_CREATED)
