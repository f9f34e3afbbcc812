"""Shopper feedback on items: a thin view over recsys.feedback.services.

Errors are recsys.core.errors exceptions, answered by recsys.http.exception_handler.
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.clients.auth import WRITE, scoped_idempotency_id
from recsys.core.errors import Conflict, FieldError, InvalidInput
from recsys.core.limits import ID_MAX_LENGTH, RECOMMENDATION_ID_MAX_LENGTH
from recsys.feedback.models import Feedback, FeedbackType
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


class FeedbackOutSerializer(serializers.Serializer):
    """Stored feedback: a report waits for a curator (`open`); "not interested" needs no review (`none`)."""

    id = serializers.IntegerField()
    item_id = serializers.CharField()
    type = serializers.ChoiceField(FeedbackType.choices)
    status = serializers.ChoiceField(Feedback.Status.choices, help_text="open: waiting in the review queue; "
                                     "decided: a curator acted; none: needs no review")
    created_at = serializers.DateTimeField()


class FeedbackView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(
        summary="Send feedback on an item: not_interested (hidden from this shopper) or report (reviewed by curators)",
        request=FeedbackInSerializer,
        responses={201: FeedbackOutSerializer, 409: ERROR},
        examples=[
            OpenApiExample("Not interested", request_only=True, value={
                "item_id": "sku-9", "type": "not_interested", "recommendation_id": "0190f3a2c1d77c3e9a51b2c4d6e8f012"}),
            OpenApiExample("A report, sent with an idempotency key", request_only=True, value={
                "item_id": "sku-9", "type": "report", "comment": "Wrong size chart", "feedback_id": "fb-2026-0042"}),
            OpenApiExample("Stored", response_only=True, status_codes=["201"], value={
                "id": 7, "item_id": "sku-9", "type": "report", "status": "open", "created_at": "2026-05-01T09:30:00Z"}),
        ],
    )
    def post(self, request, user_id: str):
        data = validated(FeedbackInSerializer, json_object(request.data), index=0)
        try:
            feedback, _ = feedback_create(user_id=user_id, item_id=data["item_id"], type=data["type"],
                                          comment=data["comment"], recommendation_id=data["recommendation_id"],
                                          feedback_id=scoped_idempotency_id(request, data["feedback_id"]) or None)
        except FeedbackIdConflict as exc:
            raise Conflict(f"feedback_id {data['feedback_id']!r} already names other feedback "
                           "(another shopper, item or type).") from exc
        except ItemNotFound as exc:
            unknown = FieldError(index=0, field="item_id", message=f"Unknown item {data['item_id']!r}.")
            raise InvalidInput([unknown]) from exc
        return Response({"id": feedback.pk, "item_id": data["item_id"], "type": feedback.type,
                         "status": feedback.status, "created_at": feedback.created_at},
                        status=status.HTTP_201_CREATED)
