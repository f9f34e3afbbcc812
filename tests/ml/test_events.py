"""The one event vocabulary (recsys.ml.events) is what every layer uses: a new row reaches them all."""
from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings

from recsys.catalog.models import Event, EventType
from recsys.ingest import validation
from recsys.ml import events, matrix
from recsys.ml.weights import WeightConfig


def test_codes_are_unique_and_every_type_has_a_verb_and_weight():
    codes = [k.code for k in events.EVENT_KINDS]
    assert len(set(codes)) == len(codes)
    assert len(set(events.EVENT_TYPES)) == len(events.EVENT_TYPES)
    assert all(k.verb and k.weight >= 0 for k in events.EVENT_KINDS)
    assert events.RATING in events.EVENT_TYPES and events.DEFAULT_TYPE in events.EVENT_TYPES
    assert set(events.CONVERTED_TYPES) <= set(events.ENGAGED_TYPES)


def test_model_choices_validation_matrix_and_settings_derive_from_the_table():
    assert [value for value, _ in EventType.choices] == list(events.EVENT_TYPES)
    assert [value for value, _ in Event._meta.get_field("type").choices] == list(events.EVENT_TYPES)
    assert validation.EVENT_TYPES == events.EVENT_TYPES
    assert matrix.TYPE_CODES == {k.name: k.code for k in events.EVENT_KINDS}
    assert set(settings.TRAINING_EVENT_WEIGHTS) == set(events.EVENT_TYPES)
    assert WeightConfig().weights == events.DEFAULT_WEIGHTS


def test_every_type_passes_validation_and_unknown_types_name_the_vocabulary():
    rules = validation.EventRules(now=datetime.now(UTC))
    errors: list = []
    for i, type_ in enumerate(events.EVENT_TYPES):
        row = validation.clean_event({"user_id": "u1", "item_id": "i1", "type": type_, "value": 5}, i, rules, errors)
        assert row is not None and row.type == type_
    assert not errors
    validation.clean_event({"user_id": "u1", "item_id": "i1", "type": "wishlist"}, 99, rules, errors)
    assert len(errors) == 1 and all(t in errors[0].message for t in events.EVENT_TYPES)


def test_weight_settings_follow_the_type_names():
    assert events.weight_setting_name("add_to_cart") == "CURIO_WEIGHT_ADD_TO_CART"
