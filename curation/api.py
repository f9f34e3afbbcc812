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

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from recsys.analytics.rule_impact import impact_json
from recsys.analytics.selectors import rule_impacts_measured
from recsys.clients.auth import READ, WRITE
from recsys.core.errors import BadRequest, InvalidInput
from recsys.core.limits import ID_MAX_LENGTH, PLACEMENT_PATTERN
from recsys.http.inputs import query_flag, validated
from recsys.http.pagination import LimitOffsetPagination
from recsys.http.serializers import InternalFieldsMixin, JsonBodyMixin

from .models import SEGMENT_MAX_USER_IDS, TARGET_FIELDS, Rule, RuleKind, RuleStatus, Segment
from .rules import HOLDOUT_KINDS, MAX_NEW_ITEM_DAYS
from .selectors import rule_list
from .services import rule_create, rule_delete, rule_update

# API field names for model fields whose names differ.
API_FIELD = {"item": "item_id", "context_item": "context_item_id", "segment_user_ids": "segment", "__all__": ""}


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


class SegmentFieldSchema(OpenApiSerializerFieldExtension):
    """The segment in the OpenAPI schema: sent as null, "new", "returning" or {"user_ids"}; answered the same
    way, or as {"user_count"} to read tokens."""

    target_class = SegmentField

    def map_serializer_field(self, auto_schema, direction):
        ids = {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": SEGMENT_MAX_USER_IDS}
        if direction == "request":
            ids["minItems"] = 1  # an answer may list none: erasing a shopper takes them out of every segment
        user_ids = {"type": "object", "properties": {"user_ids": ids}, "required": ["user_ids"],
                    "additionalProperties": False}
        choices = [{"type": "string", "enum": ["new", "returning"]}, user_ids]
        if direction == "response":
            choices.append({"type": "object", "properties": {"user_count": {"type": "integer"}},
                            "required": ["user_count"], "additionalProperties": False})
        return {"nullable": True, "oneOf": choices,
                "description": 'null: everyone; "new", "returning", or {"user_ids": [...]} (at most 10,000 ids). '
                               'Read-scope tokens see {"user_count": n} instead of the ids.'}


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


@extend_schema_field({"type": "object", "nullable": True, "additionalProperties": {
    "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}})
class AttributeMatchField(serializers.JSONField):
    """Blocks/boosts: `{"brand": "Acme"}` (one attribute name and the value to match)."""


@extend_schema_field({"type": "object", "nullable": True, "additionalProperties": {"type": "integer", "minimum": 1}})
class AttributeCapsField(serializers.JSONField):
    """Diversity: `{"brand": 2}` (at most this many items per value of the attribute)."""


class RuleSerializer(JsonBodyMixin, InternalFieldsMixin, serializers.ModelSerializer):
    """A curation rule (docs/curation.md); the fields besides the target are the same for every kind."""

    refuses_unknown_fields = True  # `validate` names a field the kind does not have (recsys.http.schema)

    item_id = serializers.CharField(max_length=ID_MAX_LENGTH, required=False, allow_blank=True, allow_null=True,
                                    help_text='the item it targets ("" or null: none)')
    context_item_id = serializers.CharField(max_length=ID_MAX_LENGTH, required=False, allow_blank=True,
                                            allow_null=True)
    segment = SegmentField(source="*", required=False)
    # The same slug rule as the list endpoints' `placement`, so a rule can always match a list.
    placement = serializers.RegexField(PLACEMENT_PATTERN, required=False, allow_blank=True, error_messages={
        "invalid": "Use a short slug of lowercase letters, digits, - and _ (e.g. home, product_page)."})
    status = serializers.SerializerMethodField(help_text="active, scheduled (starts_at ahead), expired (ends_at "
                                               "passed) or disabled")
    # Write scope only (context["internal"]): read tokens are public, and the actors name API clients and admin
    # users (`api:<client>`, `admin:<username>`).
    INTERNAL_FIELDS = ("note", "reason", "created_by", "updated_by")

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

    @extend_schema_field(serializers.ChoiceField(RuleStatus.choices))
    def get_status(self, rule: Rule) -> str:
        return rule.status()


# What each kind cannot do without (curation.models.Rule.clean): required in its create and replace (PUT) bodies.
# Blocks and boosts take exactly one target (item_id, item_category or item_attribute): the model says which.
_REQUIRED = {RuleKind.PIN: {"position"}, RuleKind.BOOST: {"strength"}, RuleKind.ANNOTATION: {"label"}}


def _serializer_for(kind: str) -> type[RuleSerializer]:
    target = ["item_id" if name == "item" else name for name in TARGET_FIELDS[kind]]
    measure = ["holdout_share"] if kind in HOLDOUT_KINDS else []
    fields = ["id", "kind", *target, *measure, *RuleSerializer.Meta.common[2:]]
    extra = {name: {"required": True, "allow_null": False} for name in _REQUIRED.get(kind, ())}
    if kind == RuleKind.DIVERSITY:
        extra["new_item_days"] = {"max_value": MAX_NEW_ITEM_DAYS}
    if "label" in extra:
        extra["label"]["allow_blank"] = False
    meta = type("Meta", (RuleSerializer.Meta,), {"fields": fields, "kind_label": kind.title(), "extra_kwargs": extra})
    attrs: dict = {"Meta": meta, "__doc__": f"A {RuleKind(kind).label.lower()} rule."}
    if measure:
        attrs["holdout_share"] = HoldoutShareField(required=False)
    if kind in (RuleKind.PIN, RuleKind.ANNOTATION):  # the item is their only target
        attrs["item_id"] = serializers.CharField(max_length=ID_MAX_LENGTH, help_text="the item it targets")
    if "item_attribute" in target:
        attrs["item_attribute"] = AttributeMatchField(required=False, allow_null=True, help_text=(
            'items whose attributes match, e.g. {"brand": "Acme"}'))
    if kind == RuleKind.DIVERSITY:
        attrs["max_per_attribute"] = AttributeCapsField(required=False, allow_null=True, help_text=(
            'at most this many items per attribute value, e.g. {"brand": 2}'))
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
    throttle_scope: str | None = None  # the impact action's: "impact" (CURIO_THROTTLE_IMPACT)

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

    @action(detail=True, methods=["get"], throttle_scope="impact")
    def impact(self, request, pk=None):
        rule = self._get(pk)
        if rule.kind not in HOLDOUT_KINDS:
            raise BadRequest(f"A {rule.kind} rule applies to all traffic: it has no holdout to measure against.")
        params = validated(ImpactParams, {k: v for k in ("start", "end") if (v := request.query_params.get(k))})
        start, end = params.get("start"), params.get("end")
        # Each answer is kept briefly (IMPACT_CACHE_SECONDS): measuring recounts every holdout rule's impressions.
        seconds = settings.IMPACT_CACHE_SECONDS
        key = f"curio:impact:{rule.pk}:{start.isoformat() if start else ''}:{end.isoformat() if end else ''}"
        answer = cache.get(key) if seconds > 0 else None
        if answer is None:
            impacts = rule_impacts_measured(start=start, end=end)  # one FDR over every rule with a holdout
            if rule.pk not in impacts:  # no holdout share: exposure only
                impacts = rule_impacts_measured(start=start, end=end, rule_ids=[rule.pk])
            answer = impact_json(impacts[rule.pk])
            if seconds > 0:
                cache.set(key, answer, timeout=seconds)
        return Response(answer)


class MomentField(serializers.Field):
    """A date (YYYY-MM-DD) or an ISO 8601 datetime, read by DRF's DateField and then DateTimeField (which
    would take a bare date as its midnight). A date is its first moment, or with `end_of_day` its last
    (the next midnight, exclusive); a naive datetime is UTC. Out-of-range values are a 400."""

    default_error_messages = {
        "invalid": "{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime (YYYY-MM-DDThh:mm[:ss][+HH:MM]).",
        "range": "{value!r} is out of range: use a date or datetime between years 1 and 9999 (in UTC).",
    }

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> datetime:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        try:
            day = serializers.DateField().to_internal_value(data)
        except serializers.ValidationError:
            try:
                return serializers.DateTimeField().to_internal_value(data)
            except serializers.ValidationError as exc:
                codes = exc.get_codes()
                self.fail("range" if "overflow" in codes or "make_aware" in codes else "invalid", value=data)
        try:
            day = day + timedelta(days=1) if self.end_of_day else day
        except OverflowError:
            self.fail("range", value=data)
        return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())

    def to_representation(self, value):
        return value.isoformat()


class ImpactParams(serializers.Serializer):
    start = MomentField(required=False)
    end = MomentField(required=False, end_of_day=True)

    def validate(self, attrs):
        if "start" in attrs and "end" in attrs and attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "end must be after start."})
        return attrs


class IntervalSerializer(serializers.Serializer):
    """A figure with its 95% interval; all null until there is data to compute it."""

    value = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)


class ImpactArmSerializer(serializers.Serializer):
    """One arm of a rule's experiment: shoppers served with the rule (exposed) or without it (holdout)."""

    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    purchases = serializers.IntegerField()
    ctr = IntervalSerializer(help_text="clicks per impression (Wilson interval)")
    conversion = IntervalSerializer(help_text="purchases per impression (Wilson interval)")


class ImpactDifferenceSerializer(serializers.Serializer):
    ctr = IntervalSerializer(help_text="exposed - holdout (Newcombe's interval)")
    conversion = IntervalSerializer(help_text="exposed - holdout (Newcombe's interval)")


class RuleImpactSerializer(serializers.Serializer):
    """The rule against its own holdout (docs/curation.md, "Holdouts")."""

    exposed = ImpactArmSerializer(help_text="shoppers served with the rule")
    holdout = ImpactArmSerializer(help_text="shoppers served without it")
    difference = ImpactDifferenceSerializer(help_text="exposed - holdout")
    p_value = serializers.FloatField(allow_null=True)
    verdict = serializers.ChoiceField(["helps", "hurts", "unknown"], help_text="unknown until both arms reach "
                                      "needed_impressions")
    needed_impressions = serializers.IntegerField(help_text="planned impressions per arm before a verdict")


IMPACT_RESPONSE = RuleImpactSerializer
_NO_DATA = {"value": None, "low": None, "high": None}
IMPACT_EXAMPLES = [OpenApiExample("Measured", response_only=True, value={
    "exposed": {"impressions": 5210, "clicks": 402, "purchases": 61,
                "ctr": {"value": 0.0772, "low": 0.0702, "high": 0.0847},
                "conversion": {"value": 0.0117, "low": 0.0091, "high": 0.015}},
    "holdout": {"impressions": 5188, "clicks": 331, "purchases": 49,
                "ctr": {"value": 0.0638, "low": 0.0574, "high": 0.0708},
                "conversion": {"value": 0.0094, "low": 0.0072, "high": 0.0125}},
    "difference": {"ctr": {"value": 0.0134, "low": 0.0039, "high": 0.0229},
                   "conversion": {"value": 0.0023, "low": -0.0016, "high": 0.0062}},
    "p_value": 0.0058, "verdict": "helps", "needed_impressions": 4800}),
    OpenApiExample("No impressions yet", response_only=True, value={
        "exposed": {"impressions": 0, "clicks": 0, "purchases": 0, "ctr": _NO_DATA, "conversion": _NO_DATA},
        "holdout": {"impressions": 0, "clicks": 0, "purchases": 0, "ctr": _NO_DATA, "conversion": _NO_DATA},
        "difference": {"ctr": _NO_DATA, "conversion": _NO_DATA},
        "p_value": None, "verdict": "unknown", "needed_impressions": 4800})]
LIST_PARAMS = [OpenApiParameter("limit", {"type": "integer", "minimum": 1},
                                description="rules per page, default 100; over 1,000 is capped to 1,000"),
               OpenApiParameter("offset", {"type": "integer", "minimum": 0}, description="rules to skip (default 0)"),
               *(OpenApiParameter(name, str, description=f"only rules with this {name}")
                 for name in ("placement", "category", "item_id")),
               OpenApiParameter("enabled", bool, description="only enabled (true) or disabled (false) rules")]
RULE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="the rule's id")
IMPACT_PARAMS = [RULE_ID, OpenApiParameter("start", str, description="YYYY-MM-DD (from its first moment) or ISO 8601 "
                                                            "datetime, naive: UTC (default: the rule's life)"),
                 OpenApiParameter("end", str, description="YYYY-MM-DD (through the end of that day) or ISO 8601 "
                                                          "datetime (exclusive)")]


_RULE_ANSWER = {"id": 12, "name": "", "placement": "home", "category": "", "context_item_id": None,
                "segment": None, "starts_at": None, "ends_at": None, "enabled": True, "priority": 0, "reason": "",
                "status": "active", "created_by": "api:my-shop", "updated_by": "api:my-shop",
                "created_at": "2026-05-01T09:30:00Z", "updated_at": "2026-05-01T09:30:00Z"}
# One create body per kind (and its answer): Swagger UI shows them, schemathesis' examples phase sends them.
_CREATE_EXAMPLES = {
    RuleKind.PIN: {"item_id": "sku-4", "position": 2, "placement": "home", "holdout_share": 0.1},
    RuleKind.BLOCK: {"item_category": "clearance", "reason": "Leaves the catalog on Friday"},
    RuleKind.BOOST: {"item_attribute": {"brand": "Acme"}, "strength": 0.5, "placement": "home",
                     "holdout_share": 0.1},
    RuleKind.ANNOTATION: {"item_id": "sku-4", "label": "Staff pick", "placement": "home"},
    RuleKind.DIVERSITY: {"max_per_category": 2, "max_per_attribute": {"brand": 3}, "placement": "home"},
}
_ANSWER_DEFAULTS = {RuleKind.PIN: {"item_id": None, "position": None, "holdout_share": 0.0},
                    RuleKind.BLOCK: {"item_id": None, "item_category": "", "item_attribute": None},
                    RuleKind.BOOST: {"item_id": None, "item_category": "", "item_attribute": None, "strength": 0.0,
                                     "holdout_share": 0.0},
                    RuleKind.ANNOTATION: {"item_id": None, "label": "", "note": "", "holdout_share": 0.0},
                    RuleKind.DIVERSITY: {"max_per_category": None, "max_per_attribute": None, "min_new_items": None,
                                         "new_item_days": None}}


def _create_examples(kind: str) -> list[OpenApiExample]:
    body = _CREATE_EXAMPLES[kind]
    answer = {**_RULE_ANSWER, "kind": kind, **_ANSWER_DEFAULTS[kind], **body}
    return [OpenApiExample(f"A {RuleKind(kind).label.lower()} rule", request_only=True, value=body),
            OpenApiExample("Created", response_only=True, status_codes=["201"], value=answer)]


def _viewset(kind: str, plural: str) -> type[_RuleViewSet]:
    cls = type(f"{kind.title()}ViewSet", (_RuleViewSet,), {"kind": kind, "__doc__": f"Curation {plural}."})
    if kind in HOLDOUT_KINDS:
        impact = extend_schema(tags=["curation"], parameters=IMPACT_PARAMS, responses=IMPACT_RESPONSE,
                               examples=IMPACT_EXAMPLES,
                               summary="The rule against its own holdout: exposed vs holdout, difference, verdict")
    else:  # the route answers 400 (no holdout to measure against): not an operation for clients
        impact = extend_schema(exclude=True)
    return extend_schema_view(
        list=extend_schema(tags=["curation"], responses=SERIALIZERS[kind](many=True), parameters=LIST_PARAMS),
        create=extend_schema(tags=["curation"], request=SERIALIZERS[kind], responses={201: SERIALIZERS[kind]},
                             examples=_create_examples(kind)),
        retrieve=extend_schema(tags=["curation"], responses=SERIALIZERS[kind], parameters=[RULE_ID]),
        update=extend_schema(tags=["curation"], request=SERIALIZERS[kind], responses=SERIALIZERS[kind],
                             parameters=[RULE_ID]),
        partial_update=extend_schema(tags=["curation"], request=SERIALIZERS[kind], responses=SERIALIZERS[kind],
                                     parameters=[RULE_ID]),
        destroy=extend_schema(tags=["curation"], responses={204: None}, parameters=[RULE_ID]),
        impact=impact,
    )(cls)


PinViewSet = _viewset(RuleKind.PIN, "pins")
BlockViewSet = _viewset(RuleKind.BLOCK, "blocks")
BoostViewSet = _viewset(RuleKind.BOOST, "boosts")
AnnotationViewSet = _viewset(RuleKind.ANNOTATION, "annotations")
DiversityViewSet = _viewset(RuleKind.DIVERSITY, "diversity rules")
