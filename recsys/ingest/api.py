"""Catalog and event ingestion: thin views over recsys.ingest.services.

Rows are validated by the lean validator (recsys.ingest.validation), not per-row DRF serializers;
the serializers below only describe the payloads for the OpenAPI schema. A refused batch is
raised as a recsys.core.errors exception and answered by recsys.http.exception_handler.
"""
from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.catalog.models import EventType, Item
from recsys.clients.auth import DEMO, READ, WRITE, scoped_idempotency_id
from recsys.core.errors import BadRequest, FieldError, InvalidInput
from recsys.core.limits import (
    CATEGORY_MAX_LENGTH,
    ID_MAX_LENGTH,
    RECOMMENDATION_ID_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    URL_MAX_LENGTH,
)
from recsys.ingest.services import BatchRefused, IngestCounts, RowsRejected, events_ingest, items_upsert
from recsys.ingest.validation import MAX_EVENT_VALUE, MAX_PRICE


class ItemSerializer(serializers.ModelSerializer):
    attributes = serializers.DictField(help_text="free-form attributes, e.g. brand")

    class Meta:
        model = Item
        fields = ["item_id", "title", "category", "url", "image_url", "price", "attributes", "available",
                  "created_at", "updated_at"]


# The row serializers below only describe what recsys.ingest.validation takes (it validates, not they); text is
# stripped of surrounding whitespace first. A row with a field not listed is refused (`refuses_unknown_fields`).
@extend_schema_field({"nullable": True, "oneOf": [
    {"type": "number", "minimum": 0, "maximum": float(MAX_PRICE)},
    {"type": "string", "description": 'a decimal, e.g. "19.90"'}]})
class _PriceField(serializers.Field):
    pass


@extend_schema_field({"nullable": True, "oneOf": [
    {"type": "string", "format": "date-time"},
    {"type": "number", "description": "epoch seconds"}]})
class _TimestampField(serializers.Field):
    pass


class ItemInSerializer(serializers.Serializer):
    """An item to create or update: fields a row leaves out keep their stored value."""

    refuses_unknown_fields = True
    item_id = serializers.CharField(max_length=ID_MAX_LENGTH, help_text="the shop's own id (SKU)")
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    category = serializers.CharField(max_length=CATEGORY_MAX_LENGTH, required=False, allow_blank=True,
                                     allow_null=True, help_text='"" or null: none')
    url = serializers.CharField(max_length=URL_MAX_LENGTH, required=False, allow_blank=True, allow_null=True,
                                help_text="an absolute http(s) URL or a path on the shop's site (/p/sku-1)")
    image_url = serializers.CharField(max_length=URL_MAX_LENGTH, required=False, allow_blank=True, allow_null=True,
                                      help_text="an absolute http(s) URL or a path on the shop's site")
    price = _PriceField(required=False, help_text="0 to 9,999,999,999.99, kept to the cent; null: no price")
    attributes = serializers.DictField(required=False, allow_null=True, help_text='e.g. {"brand": "Acme"}')
    available = serializers.BooleanField(required=False, help_text="default true for a new item")


class EventInSerializer(serializers.Serializer):
    """Something a shopper did with an item."""

    refuses_unknown_fields = True
    user_id = serializers.CharField(max_length=ID_MAX_LENGTH)
    item_id = serializers.CharField(max_length=ID_MAX_LENGTH, help_text="an item the catalog knows")
    type = serializers.ChoiceField(choices=EventType.choices)
    value = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=MAX_EVENT_VALUE,
                                   help_text="Default 1; required for ratings; 0 to 1,000,000.")
    timestamp = _TimestampField(required=False, help_text="ISO 8601 or epoch seconds, from 2000 on; default: now.")
    event_id = serializers.CharField(max_length=ID_MAX_LENGTH, required=False, allow_blank=True, allow_null=True,
                                     help_text="Idempotency key; derived from the content when absent.")
    recommendation_id = serializers.CharField(max_length=RECOMMENDATION_ID_MAX_LENGTH, required=False,
                                              allow_blank=True, allow_null=True,
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


def _scoped_event_ids(request):
    rows = request.data
    if not isinstance(rows, list) or getattr(request.user, "scope", None) != DEMO:
        return rows
    return [{**row, "event_id": scoped_idempotency_id(request, row["event_id"])}
            if isinstance(row, dict) and "event_id" in row else row for row in rows]


class ItemBatchView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(
        summary="Create or update items (bulk upsert)",
        description="A list of up to 10,000 items. Fields a row leaves out keep their stored value. "
                    "One bad row refuses the whole batch with every bad row listed.",
        request=ItemInSerializer(many=True, min_length=1, max_length=settings.ITEM_BATCH_LIMIT),
        responses={200: inline_serializer("ItemUpsertResult", {"created": serializers.IntegerField(),
                                                               "updated": serializers.IntegerField()}),
                   400: _ROW_ERRORS},
        # One row each: drf-spectacular wraps a list body's example value in the list itself.
        examples=[OpenApiExample("A new item", request_only=True, value={
                      "item_id": "sku-9", "title": "Trail running shoes", "category": "shoes", "price": "89.90",
                      "url": "https://shop.example/p/sku-9", "image_url": "https://img.shop.example/sku-9.jpg",
                      "attributes": {"brand": "Acme", "color": "blue"}}),
                  OpenApiExample("Out of stock (other fields kept)", request_only=True, value={
                      "item_id": "sku-9", "title": "Trail running shoes", "available": False})],
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
        request=EventInSerializer(many=True, min_length=1, max_length=settings.EVENT_BATCH_LIMIT),
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
        counts = _ingested(events_ingest, _scoped_event_ids(request))
        return Response({"accepted": counts.accepted, "duplicates": counts.duplicates})
