"""Catalog and event ingestion: thin views over recsys.ingest.services.

Rows are validated by the lean validator (recsys.ingest.validation), not per-row DRF serializers;
the serializers below only describe the payloads for the OpenAPI schema. A refused batch is
raised as a recsys.errors exception and answered by recsys.http.exception_handler.
"""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.catalog.limits import CATEGORY_MAX_LENGTH, ID_MAX_LENGTH, RECOMMENDATION_ID_MAX_LENGTH, TITLE_MAX_LENGTH
from recsys.catalog.models import Item
from recsys.clients.auth import READ, WRITE
from recsys.errors import BadRequest, FieldError, InvalidInput
from recsys.ingest.services import BatchRefused, IngestCounts, RowsRejected, events_ingest, items_upsert
from recsys.ml.events import EVENT_TYPES


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["item_id", "title", "category", "url", "image_url", "price", "attributes", "available",
                  "created_at", "updated_at"]


class ItemInSerializer(serializers.Serializer):
    item_id = serializers.CharField(max_length=ID_MAX_LENGTH)
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    category = serializers.CharField(max_length=CATEGORY_MAX_LENGTH, required=False)
    url = serializers.CharField(required=False)
    image_url = serializers.CharField(required=False)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True)
    attributes = serializers.DictField(required=False)
    available = serializers.BooleanField(required=False, default=True)


class EventInSerializer(serializers.Serializer):
    user_id = serializers.CharField(max_length=ID_MAX_LENGTH)
    item_id = serializers.CharField(max_length=ID_MAX_LENGTH)
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    value = serializers.FloatField(required=False, help_text="Default 1; required for ratings; 0 to 1,000,000.")
    timestamp = serializers.DateTimeField(required=False, help_text="ISO 8601 or epoch seconds; default: now.")
    event_id = serializers.CharField(max_length=ID_MAX_LENGTH, required=False,
                                     help_text="Idempotency key; derived from the content when absent.")
    recommendation_id = serializers.CharField(max_length=RECOMMENDATION_ID_MAX_LENGTH, required=False,
                                              help_text="From a list response, for click attribution.")


_ROW_ERRORS = inline_serializer("RowErrors", {
    "detail": serializers.CharField(help_text="One line: what is wrong."),
    "errors": serializers.ListField(required=False, help_text="Bad rows (absent when the batch as a whole is refused).",
                                    child=inline_serializer("RowError", {
                                        "index": serializers.IntegerField(), "field": serializers.CharField(),
                                        "message": serializers.CharField()}))})


def _ingested(ingest, payload) -> IngestCounts:
    """Run a batch service; a refused batch becomes the API's 400 (every bad row, or why the batch as a whole)."""
    try:
        return ingest(payload=payload)
    except RowsRejected as exc:
        raise InvalidInput([FieldError(index=e.index, field=e.field, message=e.message) for e in exc.errors]) from exc
    except BatchRefused as exc:
        raise BadRequest(str(exc)) from exc


class ItemBatchView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(
        summary="Create or update items (bulk upsert)",
        description="A list of up to 10,000 items. Fields a row leaves out keep their stored value. "
                    "One bad row refuses the whole batch with every bad row listed.",
        request=ItemInSerializer(many=True),
        responses={200: inline_serializer("ItemUpsertResult", {"created": serializers.IntegerField(),
                                                               "updated": serializers.IntegerField()}),
                   400: _ROW_ERRORS},
    )
    def post(self, request):
        counts = _ingested(items_upsert, request.data)
        return Response({"created": counts.items_created, "updated": counts.items_updated})


class ItemDetailView(APIView):
    required_scope = {"GET": READ}

    @extend_schema(summary="One item", responses={200: ItemSerializer})
    def get(self, request, item_id: str):
        return Response(ItemSerializer(get_object_or_404(Item, item_id=item_id)).data)


class EventBatchView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(
        summary="Record events (bulk, idempotent)",
        description="A list of up to 10,000 events. Events already stored (same event_id and content) "
                    "count as duplicates; unknown shoppers are created; unknown items are an error. "
                    "One bad row refuses the whole batch with every bad row listed.",
        request=EventInSerializer(many=True),
        responses={200: inline_serializer("EventIngestResult", {"accepted": serializers.IntegerField(),
                                                                "duplicates": serializers.IntegerField()}),
                   400: _ROW_ERRORS},
        # One row each: drf-spectacular wraps a list body's example value in the list itself.
        examples=[OpenApiExample("A view", request_only=True, value={
                      "user_id": "u1", "item_id": "sku-1", "type": "view", "timestamp": "2024-05-01T12:00:00Z"}),
                  OpenApiExample("A purchase with its idempotency key", request_only=True, value={
                      "user_id": "u1", "item_id": "sku-1", "type": "purchase", "value": 2, "event_id": "order-77-1"})],
    )
    def post(self, request):
        counts = _ingested(events_ingest, request.data)
        return Response({"accepted": counts.accepted, "duplicates": counts.duplicates})
