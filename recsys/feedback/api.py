"""Shopper feedback on items: a thin view over recsys.feedback.services.

Errors are recsys.errors exceptions, answered by recsys.http.exception_handler.
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.catalog.limits import ID_MAX_LENGTH, RECOMMENDATION_ID_MAX_LENGTH
from recsys.clients.auth import WRITE
from recsys.errors import Conflict, FieldError, InvalidInput
from recsys.feedback.models import FeedbackType
from recsys.feedback.services import COMMENT_MAX_LENGTH, FeedbackIdConflict, ItemNotFound, feedback_create
from recsys.http.inputs import json_object, validated
from recsys.http.schema import ERROR
from recsys.http.serializers import JsonBodyMixin


class FeedbackInSerializer(JsonBodyMixin, serializers.Serializer):
    item_id = serializers.CharField(max_length=ID_MAX_LENGTH)
    type = serializers.ChoiceField(choices=FeedbackType.choices)
    comment = serializers.CharField(max_length=COMMENT_MAX_LENGTH, required=False, allow_blank=True, default="")
    recommendation_id = serializers.CharField(max_length=RECOMMENDATION_ID_MAX_LENGTH, required=False,
                                              allow_blank=True, default="",
                                              help_text="The list's recommendation_id, for attribution.")
    feedback_id = serializers.CharField(max_length=ID_MAX_LENGTH, required=False, allow_blank=True, default="",
                                        help_text="Idempotency key: a retry with the same feedback_id is "
                                                  "stored (and counted in the review queue) once.")


class FeedbackView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(
        summary="Send feedback on an item: not_interested (hidden from this shopper) or report (reviewed by curators)",
        request=FeedbackInSerializer,
        responses={201: inline_serializer("FeedbackOut", {
            "id": serializers.IntegerField(), "item_id": serializers.CharField(), "type": serializers.CharField(),
            "status": serializers.CharField(), "created_at": serializers.DateTimeField()}), 409: ERROR},
    )
    def post(self, request, user_id: str):
        data = validated(FeedbackInSerializer, json_object(request.data), index=0)
        try:
            feedback, _ = feedback_create(user_id=user_id, item_id=data["item_id"], type=data["type"],
                                          comment=data["comment"], recommendation_id=data["recommendation_id"],
                                          feedback_id=data["feedback_id"] or None)
        except FeedbackIdConflict as exc:
            raise Conflict(f"feedback_id {data['feedback_id']!r} already names other feedback "
                           "(another shopper, item or type).") from exc
        except ItemNotFound as exc:
            unknown = FieldError(index=0, field="item_id", message=f"Unknown item {data['item_id']!r}.")
            raise InvalidInput([unknown]) from exc
        return Response({"id": feedback.pk, "item_id": data["item_id"], "type": feedback.type,
                         "status": feedback.status, "created_at": feedback.created_at},
                        status=status.HTTP_201_CREATED)
