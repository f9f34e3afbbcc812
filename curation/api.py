"""REST API for curation rules: /api/v1/curation/{pins,blocks,boosts,annotations,diversity}/, and each
rule's measured impact against its own holdout at /api/v1/curation/<kind>/<id>/impact/.

Thin views: parse with a serializer, write through curation.services (which validates the
model, bumps the rules stamp and records the API client in the audit history). Either check's
complaint is one `InvalidInput` ("Invalid rule.", every field listed), answered by
recsys.http.exception_handler.

Read-scope tokens (held by frontends) do not see the merchandisers' internal fields: a rule's `note` and
`reason` are left out, and a user-id segment shows its size (`{"user_count": n}`), not the ids.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from recsys.analytics.rule_impact import impact_json
from recsys.catalog.limits import ID_MAX_LENGTH
from recsys.clients.auth import READ, WRITE
from recsys.errors import BadRequest, InvalidInput
from recsys.http.inputs import query_flag
from recsys.http.pagination import LimitOffsetPagination
from recsys.http.serializers import InternalFieldsMixin, JsonBodyMixin
from recsys.serving.api import SLUG as PLACEMENT_SLUG

from .models import HOLDOUT_KINDS, SEGMENT_MAX_USER_IDS, TARGET_FIELDS, Rule, RuleKind, Segment
from .selectors import rule_impacts_measured, rule_list
from .services import rule_create, rule_delete, rule_update

# API field names for model fields whose names differ.
API_FIELD = {"item": "item_id", "context_item": "context_item_id", "segment_user_ids": "segment", "__all__": ""}


@extend_schema_field({
    "nullable": True,
    "oneOf": [
        {"type": "string", "enum": ["new", "returning"]},
        {"type": "object", "properties": {"user_ids": {"type": "array", "items": {"type": "string"},
                                                        "maxItems": SEGMENT_MAX_USER_IDS}},
         "required": ["user_ids"]},
        {"type": "object", "properties": {"user_count": {"type": "integer"}}, "required": ["user_count"],
         "readOnly": True},
    ],
    "description": 'null: everyone; "new", "returning", or {"user_ids": [...]} (at most 10,000 ids). '
                   'Read-scope tokens see {"user_count": n} instead of the ids.',
})
class SegmentField(serializers.Field):
    """`null` (everyone), "new", "returning" or {"user_ids": ["u1", ...]}."""

    def to_representation(self, rule: Rule):
        if rule.segment == Segment.USERS:
            if not self.context.get("internal"):
                return {"user_count": len(rule.segment_user_ids)}
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


@extend_schema_field({"type": "number", "minimum": 0, "maximum": 0.5,
                      "description": "Share of shoppers served without this rule, to measure it (omitted: "
                                     "CURIO_RULE_HOLDOUT_SHARE, default 0)."})
class HoldoutShareField(serializers.Field):
    """A JSON number from 0 to 0.5 (not a string, not a boolean)."""

    def to_representation(self, value):
        return value

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ValidationError("Give a JSON number from 0 to 0.5, e.g. 0.1 for 10% of shoppers.")
        if not 0 <= data <= 0.5:
            raise ValidationError(f"{data} is outside 0 to 0.5: at most half of the shoppers can be held out.")
        return float(data)


class RuleSerializer(JsonBodyMixin, InternalFieldsMixin, serializers.ModelSerializer):
    item_id = serializers.CharField(max_length=ID_MAX_LENGTH, required=False, allow_blank=True)
    context_item_id = serializers.CharField(max_length=ID_MAX_LENGTH, required=False, allow_blank=True,
                                            allow_null=True)
    segment = SegmentField(source="*", required=False)
    # The same slug rule as the list endpoints' `placement`, so a rule can always match a list.
    placement = serializers.RegexField(PLACEMENT_SLUG, required=False, allow_blank=True, error_messages={
        "invalid": "Use a short slug of lowercase letters, digits, - and _ (e.g. home, product_page)."})
    status = serializers.SerializerMethodField()
    INTERNAL_FIELDS = ("note", "reason")  # write scope only (context["internal"])

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
    measure = ["holdout_share"] if kind in HOLDOUT_KINDS else []
    fields = ["id", "kind", *target, *measure, *RuleSerializer.Meta.common[2:]]
    meta = type("Meta", (RuleSerializer.Meta,), {"fields": fields, "kind_label": kind.title()})
    attrs: dict = {"Meta": meta}
    if measure:
        attrs["holdout_share"] = HoldoutShareField(required=False)
    return type(f"{kind.title()}RuleSerializer", (RuleSerializer,), attrs)


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


class RulePagination(LimitOffsetPagination):
    """Rule lists: `?limit=&offset=` (default 100, at most 1,000): `{"count", "next", "previous", "results"}`."""

    default_limit = 100
    max_limit = 1000


class _RuleViewSet(viewsets.ViewSet):
    """List, create (201), read, update, delete rules of one kind. Changes need a write-scope token."""

    kind: str = ""
    required_scope = {"GET": READ, "POST": WRITE, "PUT": WRITE, "PATCH": WRITE, "DELETE": WRITE}
    lookup_value_regex = r"\d+"
    pagination_class = RulePagination

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

    def _context(self) -> dict:
        return {"internal": self.request.user.scope == WRITE}  # note, reason, segment ids: write scope only

    def _out(self, rule: Rule, code=status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer_class()(rule, context=self._context()).data, status=code)

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
            qs = qs.filter(enabled=query_flag(request.query_params["enabled"], "enabled"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs.order_by("-priority", "-created_at", "-pk"), request, view=self)
        return paginator.get_paginated_response(
            self.get_serializer_class()(page, many=True, context=self._context()).data)

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

    @action(detail=True, methods=["get"])
    def impact(self, request, pk=None):
        rule = self._get(pk)
        if rule.kind not in HOLDOUT_KINDS:
            raise BadRequest(f"A {rule.kind} rule applies to all traffic: it has no holdout to measure against.")
        start = _moment(request.query_params.get("start"), "start")
        end = _moment(request.query_params.get("end"), "end", end_of_day=True)
        if start and end and end <= start:
            raise InvalidInput([{"index": None, "field": "end", "message": "end must be after start."}])
        impacts = rule_impacts_measured(start=start, end=end)  # one FDR over every rule with a holdout
        if rule.pk not in impacts:  # no holdout share: exposure only
            impacts = rule_impacts_measured(start=start, end=end, rule_ids=[rule.pk])
        return Response(impact_json(impacts[rule.pk]))


def _moment(raw: str | None, name: str, *, end_of_day: bool = False) -> datetime | None:
    """A `start`/`end` parameter: a date (an end date counts whole) or an ISO 8601 datetime."""
    if not raw:
        return None
    moment = parse_datetime(raw)
    if moment is None:
        day = parse_date(raw)
        if day is None:
            raise InvalidInput([{"index": None, "field": name,
                                 "message": f"{raw!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime."}])
        moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


_ARM = inline_serializer("RuleImpactArm", {
    "impressions": serializers.IntegerField(), "clicks": serializers.IntegerField(),
    "purchases": serializers.IntegerField(), "ctr": serializers.DictField(), "conversion": serializers.DictField()})
IMPACT_RESPONSE = inline_serializer("RuleImpact", {
    "exposed": _ARM, "holdout": _ARM,
    "difference": serializers.DictField(help_text="exposed - holdout: ctr and conversion, Newcombe's 95% interval"),
    "p_value": serializers.FloatField(allow_null=True),
    "verdict": serializers.ChoiceField(["helps", "hurts", "unknown"]),
    "needed_impressions": serializers.IntegerField(help_text="planned impressions per arm before a verdict")})
LIST_PARAMS = [OpenApiParameter("limit", {"type": "integer", "minimum": 1},
                                description="rules per page, default 100; over 1,000 is capped to 1,000"),
               OpenApiParameter("offset", {"type": "integer", "minimum": 0}, description="rules to skip (default 0)"),
               *(OpenApiParameter(name, str, description=f"only rules with this {name}")
                 for name in ("placement", "category", "item_id")),
               OpenApiParameter("enabled", bool, description="only enabled (true) or disabled (false) rules")]
IMPACT_PARAMS = [OpenApiParameter("start", str, description="date or datetime (default: the rule's life)"),
                 OpenApiParameter("end", str, description="date (counted whole) or datetime")]


def _viewset(kind: str, plural: str) -> type[_RuleViewSet]:
    cls = type(f"{kind.title()}ViewSet", (_RuleViewSet,), {"kind": kind, "__doc__": f"Curation {plural}."})
    return extend_schema_view(
        list=extend_schema(tags=["curation"], responses=SERIALIZERS[kind](many=True), parameters=LIST_PARAMS),
        create=extend_schema(tags=["curation"], request=SERIALIZERS[kind], responses={201: SERIALIZERS[kind]}),
        retrieve=extend_schema(tags=["curation"], responses=SERIALIZERS[kind]),
        update=extend_schema(tags=["curation"], request=SERIALIZERS[kind], responses=SERIALIZERS[kind]),
        partial_update=extend_schema(tags=["curation"], request=SERIALIZERS[kind], responses=SERIALIZERS[kind]),
        destroy=extend_schema(tags=["curation"], responses={204: None}),
        impact=extend_schema(tags=["curation"], parameters=IMPACT_PARAMS, responses=IMPACT_RESPONSE,
                             summary="The rule against its own holdout: exposed vs holdout, difference, verdict"),
    )(cls)


PinViewSet = _viewset(RuleKind.PIN, "pins")
BlockViewSet = _viewset(RuleKind.BLOCK, "blocks")
BoostViewSet = _viewset(RuleKind.BOOST, "boosts")
AnnotationViewSet = _viewset(RuleKind.ANNOTATION, "annotations")
DiversityViewSet = _viewset(RuleKind.DIVERSITY, "diversity rules")
