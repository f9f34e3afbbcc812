"""The suggestions inbox over the API (write scope): list, accept, dismiss, snooze. Thin views over
recsys.suggestions.services and selectors; errors are recsys.core.errors exceptions, answered by
recsys.http.exception_handler.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.clients.auth import WRITE
from recsys.core.errors import BadRequest, Conflict, FieldError, InvalidInput, NotFound
from recsys.http.inputs import json_object, validated
from recsys.http.pagination import LimitOffsetPagination
from recsys.http.schema import ERROR
from recsys.http.serializers import JsonBodyMixin

from .models import Detector, Severity, Suggestion, SuggestionStatus
from .selectors import suggestion_list
from .services import (
    SNOOZE_MAX_DAYS,
    SuggestionError,
    api_author,
    suggestion_accept,
    suggestion_dismiss,
    suggestion_snooze,
)


class SuggestionSerializer(serializers.ModelSerializer):
    """A case the detectors found for a merchandiser to decide, with its evidence."""

    detector = serializers.ChoiceField(Detector.choices)
    severity = serializers.ChoiceField(Severity.choices)
    status = serializers.ChoiceField(SuggestionStatus.choices)
    evidence = serializers.DictField(help_text="the numbers behind it: counts, rates with 95% intervals "
                                     "(`value`, `low`, `high`), the period, and admin links")
    rule_id = serializers.IntegerField(allow_null=True, help_text="the rule accepting drafted or disabled")

    class Meta:
        model = Suggestion
        fields = ["id", "detector", "severity", "title", "why", "evidence", "status", "rule_id", "created_at"]


class AcceptedSerializer(serializers.Serializer):
    rule_id = serializers.IntegerField(help_text="the drafted rule (or the rule disabled)")
    change_set_id = serializers.IntegerField(allow_null=True, help_text="the change set holding the draft; null "
                                             "when accepting disabled a rule that hurts or cannot show anything")


class DismissSerializer(JsonBodyMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="why (kept in the audit log)")


class SnoozeSerializer(JsonBodyMixin, serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=SNOOZE_MAX_DAYS)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SuggestionPagination(LimitOffsetPagination):
    """`?limit=&offset=` (default 100, at most 1,000): `{"count", "next", "previous", "results"}`."""

    default_limit = 100
    max_limit = 1000


def _actor(request) -> str:
    return f"api:{request.user.name}"


def _get(suggestion_id: int) -> Suggestion:
    suggestion = Suggestion.objects.filter(pk=suggestion_id).first()
    if suggestion is None:
        raise NotFound(f"No suggestion {suggestion_id}.")
    return suggestion


class SuggestionListView(generics.ListAPIView):
    required_scope = {"GET": WRITE}
    serializer_class = SuggestionSerializer
    pagination_class = SuggestionPagination

    def get_queryset(self):
        raw = self.request.query_params.get("status")
        if raw is not None and raw not in SuggestionStatus.values:
            raise InvalidInput([FieldError(index=None, field="status", message=(
                f"{raw!r} is not one of {', '.join(SuggestionStatus.values)}."))])
        return suggestion_list(status=raw)

    @extend_schema(summary="The suggestions inbox, by severity then age (write scope)", parameters=[
        OpenApiParameter("status", enum=SuggestionStatus.values, description="only these (omitted: all)")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SuggestionAcceptView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(request=None, responses={201: AcceptedSerializer, 409: ERROR},
                   summary="Accept: a draft rule in the change set of CURIO_SUGGEST_API_AUTHOR (not live until "
                           "published), or a hurting rule disabled",
                   examples=[OpenApiExample("Drafted", response_only=True, status_codes=["201"],
                                            value={"rule_id": 42, "change_set_id": 7})])
    def post(self, request, suggestion_id: int):
        if request.data not in ({}, None) and not isinstance(request.data, dict):
            raise BadRequest("Send an empty JSON object.")
        suggestion = _get(suggestion_id)
        try:
            accepted = suggestion_accept(suggestion=suggestion, author=api_author(), actor=_actor(request))
        except SuggestionError as exc:
            raise Conflict(str(exc)) from exc
        except DjangoValidationError as exc:
            raise Conflict(f"The rule could not be drafted: {' '.join(exc.messages)}") from exc
        return Response({"rule_id": accepted.rule_id, "change_set_id": accepted.change_set_id},
                        status=status.HTTP_201_CREATED)


class SuggestionDismissView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(request=DismissSerializer, responses={200: SuggestionSerializer, 409: ERROR},
                   summary="Dismiss with a reason (audited); not raised again until its evidence changes materially",
                   examples=[OpenApiExample("Dismiss", request_only=True,
                                            value={"reason": "Seasonal item: the complaints are about shipping."})])
    def post(self, request, suggestion_id: int):
        data = validated(DismissSerializer, json_object(request.data), index=0)
        suggestion = _get(suggestion_id)
        try:
            row = suggestion_dismiss(suggestion=suggestion, reason=data["reason"], actor=_actor(request))
        except SuggestionError as exc:
            raise Conflict(str(exc)) from exc
        return Response(SuggestionSerializer(row).data)


class SuggestionSnoozeView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(request=SnoozeSerializer, responses={200: SuggestionSerializer, 409: ERROR},
                   summary="Snooze for some days: it comes back open afterwards if the detectors still find it",
                   examples=[OpenApiExample("Snooze", request_only=True, value={"days": 7})])
    def post(self, request, suggestion_id: int):
        data = validated(SnoozeSerializer, json_object(request.data), index=0)
        suggestion = _get(suggestion_id)
        try:
            row = suggestion_snooze(suggestion=suggestion, days=data["days"], reason=data["reason"],
                                    actor=_actor(request))
        except SuggestionError as exc:
            raise Conflict(str(exc)) from exc
        return Response(SuggestionSerializer(row).data)
