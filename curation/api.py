"""REST API for curation rules: /api/v1/curation/{pins,blocks,boosts,annotations}/.

Thin views: parse with a serializer, write through curation.services (which validates the
model, bumps the rules stamp and records the API client in the audit history). Either check's
complaint is one `InvalidInput` ("Invalid rule.", every field listed), answered by
recsys.http.exception_handler.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from recsys.catalog.limits import ID_MAX_LENGTH
from recsys.errors import InvalidInput
from recsys.serving.api import SLUG as PLACEMENT_SLUG

from .models import TARGET_FIELDS, Rule, RuleKind, Segment
from .selectors import rule_list
from .services import rule_create, rule_delete, rule_update

# API field names for model fields whose names differ.
API_FIELD = {"item": "item_id", "context_item": "context_item_id", "segment_user_ids": "segment", "__all__": ""}


@extend_schema_field({
    "nullable": True,
    "oneOf": [
        {"type": "string", "enum": ["new", "returning"]},
        {"type": "object", "properties": {"user_ids": {"type": "array", "items": {"type": "string"}}},
         "required": ["user_ids"]},
    ],
    "description": 'null: everyone; "new", "returning", or {"user_ids": [...]}',
})
class SegmentField(serializers.Field):
    """`null` (everyone), "new", "returning" or {"user_ids": ["u1", ...]}."""

    def to_representation(self, rule: Rule):
        if rule.segment == Segment.USERS:
            return {"user_ids": list(rule.segment_user_ids)}
        return rule.segment or None

    def validate_empty_values(self, data):
        # null is a value here ("everyone"), not a missing field: let to_internal_value map it.
        if data is None:
            return False, data
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if data in (None, ""):
            return {"segment": Segment.ALL, "segment_user_ids": []}
        if data in (Segment.NEW, Segment.RETURNING):
            return {"segment": data, "segment_user_ids": []}
        if isinstance(data, dict) and set(data) == {"user_ids"} and isinstance(data["user_ids"], list):
            return {"segment": Segment.USERS, "segment_user_ids": data["user_ids"]}
        raise ValidationError('Use null, "new", "returning" or {"user_ids": ["..."]}.')


class RuleSerializer(serializers.ModelSerializer):
    item_id = serializers.CharField(max_length=ID_MAX_LENGTH, required=False, allow_blank=True)
    context_item_id = serializers.CharField(max_length=ID_MAX_LENGTH, required=False, allow_blank=True,
                                            allow_null=True)
    segment = SegmentField(source="*", required=False)
    # The same slug rule as the list endpoints' `placement`, so a rule can always match a list.
    placement = serializers.RegexField(PLACEMENT_SLUG, required=False, allow_blank=True, error_messages={
        "invalid": "Use a short slug of lowercase letters, digits, - and _ (e.g. home, product_page)."})
    status = serializers.SerializerMethodField()

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise ValidationError({name: [f"{self.Meta.kind_label} rules have no field {name!r}."] for name in unknown})
        return attrs

    class Meta:
        model = Rule
        common = ["id", "kind", "name", "placement", "category", "context_item_id", "segment", "starts_at",
                  "ends_at", "enabled", "priority", "reason", "status", "created_by", "updated_by",
                  "created_at", "updated_at"]
        fields = common
        read_only_fields = ["id", "kind", "status", "created_by", "updated_by", "created_at", "updated_at"]

    def get_status(self, rule: Rule) -> str:
        return rule.status()


def _serializer_for(kind: str) -> type[RuleSerializer]:
    target = ["item_id" if name == "item" else name for name in TARGET_FIELDS[kind]]
    fields = ["id", "kind", *target, *RuleSerializer.Meta.common[2:]]
    meta = type("Meta", (RuleSerializer.Meta,), {"fields": fields, "kind_label": kind.title()})
    return type(f"{kind.title()}RuleSerializer", (RuleSerializer,), {"Meta": meta})


SERIALIZERS = {kind: _serializer_for(kind) for kind in RuleKind}


def _invalid_rule(exc: Exception) -> Exception:
    """The serializer's or the model's (full_clean in curation.services) complaint as one InvalidInput;
    any other exception unchanged."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    elif isinstance(exc, ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    else:
        return exc
    return InvalidInput.of(detail, index=0, rename=API_FIELD, detail="Invalid rule.")


class _RuleViewSet(viewsets.ViewSet):
    """List, create (201), read, update, delete rules of one kind. Changes need a write-scope token."""

    kind: str = ""
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):  # for drf-spectacular
        return SERIALIZERS[self.kind]

    def _actor(self, request) -> str:
        return f"api:{getattr(request.user, 'name', 'unknown')}"

    def _input(self, request, *, partial: bool) -> dict:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        serializer = self.get_serializer_class()(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        for key in ("item_id", "context_item_id"):
            if key in data and not data[key]:
                data[key] = None  # "" (or null) means no item
        return data

    def _out(self, rule: Rule, code=status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer_class()(rule).data, status=code)

    def handle_exception(self, exc):
        return super().handle_exception(_invalid_rule(exc))

    def _get(self, pk) -> Rule:
        return get_object_or_404(rule_list(kind=self.kind), pk=pk)

    def list(self, request):
        qs = rule_list(kind=self.kind)
        for param in ("placement", "category", "item_id"):
            if param in request.query_params:
                qs = qs.filter(**{param: request.query_params[param]})
        if "enabled" in request.query_params:
            qs = qs.filter(enabled=request.query_params["enabled"].lower() in {"1", "true", "yes", "on"})
        return Response(self.get_serializer_class()(qs, many=True).data)

    def create(self, request):
        rule = rule_create(kind=self.kind, data=self._input(request, partial=False), actor=self._actor(request))
        return self._out(rule, status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return self._out(self._get(pk))

    def update(self, request, pk=None):
        rule = self._get(pk)
        data = self._input(request, partial=False)
        return self._out(rule_update(rule=rule, data=data, actor=self._actor(request)))

    def partial_update(self, request, pk=None):
        rule = self._get(pk)
        data = self._input(request, partial=True)
        return self._out(rule_update(rule=rule, data=data, actor=self._actor(request)))

    def destroy(self, request, pk=None):
        rule_delete(rule=self._get(pk), actor=self._actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _viewset(kind: str, plural: str) -> type[_RuleViewSet]:
    cls = type(f"{kind.title()}ViewSet", (_RuleViewSet,), {"kind": kind, "__doc__": f"Curation {plural}."})
    return extend_schema_view(
        list=extend_schema(tags=["curation"], responses=SERIALIZERS[kind](many=True)),
        create=extend_schema(tags=["curation"], request=SERIALIZERS[kind], responses={201: SERIALIZERS[kind]}),
        retrieve=extend_schema(tags=["curation"], responses=SERIALIZERS[kind]),
        update=extend_schema(tags=["curation"], request=SERIALIZERS[kind], responses=SERIALIZERS[kind]),
        partial_update=extend_schema(tags=["curation"], request=SERIALIZERS[kind], responses=SERIALIZERS[kind]),
        destroy=extend_schema(tags=["curation"], responses={204: None}),
    )(cls)


PinViewSet = _viewset(RuleKind.PIN, "pins")
BlockViewSet = _viewset(RuleKind.BLOCK, "blocks")
BoostViewSet = _viewset(RuleKind.BOOST, "boosts")
AnnotationViewSet = _viewset(RuleKind.ANNOTATION, "annotations")
