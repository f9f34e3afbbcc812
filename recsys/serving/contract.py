"""The list response as OpenAPI components (docs/api.md, "List response"): what `recsys.serving.lists` answers.

Schema only: the views return the engine's dicts as they are (no serializer on the hot path);
tests/http/test_schema_contract.py checks served lists against these components, and the generated clients
(tests/http/test_generated_clients.py) read every field through them.
"""
from __future__ import annotations

from rest_framework import serializers

from curation import rules
from curation.models import RuleKind

SOURCES = ("model", "pinned", "boosted", "popular", "new")
REASON_TYPES = ("history", "similar", "content", "popular", "curated")


class ReasonSerializer(serializers.Serializer):
    """Why an item is in the list, in words a shopper can read."""

    type = serializers.ChoiceField(REASON_TYPES, help_text="history: the shopper's own events; similar: like an "
                                   "item in view or in the cart; content: shared attributes or words; popular; "
                                   "curated: a merchandiser's pin, boost or label")
    text = serializers.CharField(help_text='e.g. "Because you bought Trail shoes"')
    item_id = serializers.CharField(required=False, help_text="the item the reason refers to (history, similar)")


class AnnotationSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="a curator's label for shoppers, e.g. Staff pick")


class TraceRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="the rule's id (/api/v1/curation/<kind>s/<id>/)")
    type = serializers.ChoiceField(RuleKind.choices, help_text="the rule's kind")
    name = serializers.CharField(help_text="the rule's title")
    effect = serializers.CharField(help_text='what it did here, in words, e.g. "pinned at #1"')
    action = serializers.ChoiceField(rules.ACTIONS, help_text="what it did here, as data (the words are `effect`)")


class TraceSerializer(serializers.Serializer):
    """How curation moved the item (`?explain=full`, write scope)."""

    algorithm_rank = serializers.IntegerField(allow_null=True, help_text="its rank before curation; null: not "
                                              "an algorithm candidate (a pin from outside)")
    algorithm_score = serializers.FloatField(allow_null=True, help_text="the algorithm's raw score")
    rules = TraceRuleSerializer(many=True, help_text="the rules that touched it, in the order they acted")
    final_rank = serializers.IntegerField()


class ListItemSerializer(serializers.Serializer):
    item_id = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    image_url = serializers.CharField(allow_blank=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True, help_text='e.g. "19.90"')
    rank = serializers.IntegerField(min_value=1, help_text="1-based position in the list")
    score = serializers.FloatField(min_value=0, max_value=1, help_text="comparable within its list only")
    source = serializers.ChoiceField(SOURCES, help_text="what put it there: model, pinned, boosted, popular, or "
                                     "new (an item not yet learned: an exploration slot, or a new item's content "
                                     "neighbour)")
    reasons = ReasonSerializer(many=True)
    annotations = AnnotationSerializer(many=True)
    trace = TraceSerializer(required=False, help_text="only with ?explain=full (write scope)")


class ListResponseSerializer(serializers.Serializer):
    """Every list endpoint's answer; a batch answers one per shopper."""

    user_id = serializers.CharField(allow_null=True, help_text="null for lists without a shopper")
    recommendation_id = serializers.CharField(help_text="fresh per list: send it back on events and feedback")
    model_version = serializers.IntegerField(allow_null=True, help_text="null when no model took part")
    placement = serializers.CharField(allow_null=True)
    items = ListItemSerializer(many=True)
    raw = serializers.BooleanField(required=False, help_text="present (true) on raw=true lists")


class BatchResponseSerializer(serializers.Serializer):
    results = ListResponseSerializer(many=True, help_text="one list per user_id, in the order sent")
