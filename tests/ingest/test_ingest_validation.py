"""The lean validator on its own: no database, no Django request."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from recsys.ingest.validation import (
    EventRules,
    RowError,
    clean_event,
    clean_item,
    clean_text_events,
    dedupe_events,
    dedupe_items,
    derive_event_id,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RULES = EventRules(now=NOW, max_future_seconds=300)


def event(**overrides):
    row = {"user_id": "u1", "item_id": "sku-1", "type": "view", "timestamp": "2025-05-01T10:00:00Z"}
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not ...}


def check(raw, **kwargs):
    errors: list[RowError] = []
    row = clean_event(raw, 7, RULES, errors, **kwargs)
    return row, errors


def test_valid_event_is_normalised_with_a_derived_id():
    row, errors = check(event(value=2, recommendation_id="rec-1"))
    assert errors == []
    assert row.index == 7 and row.user_id == "u1" and row.value == 2.0
    assert row.timestamp == datetime(2025, 5, 1, 10, tzinfo=UTC) and row.timestamp_given
    assert row.derived_id and len(row.event_id) == 32
    # The same content written differently gives the same id; other content another one.
    same, _ = check(event(value=2.0, recommendation_id="rec-1", timestamp="2025-05-01T12:00:00+02:00"))
    other, _ = check(event(value=3, recommendation_id="rec-1"))
    assert same.event_id == row.event_id != other.event_id


def test_sent_event_id_is_kept_and_numeric_ids_become_strings():
    row, errors = check(event(event_id="order-7", user_id=42))
    assert errors == [] and row.event_id == "order-7" and not row.derived_id and row.user_id == "42"


def test_missing_timestamp_means_now_and_is_left_out_of_the_id():
    row, errors = check(event(timestamp=...))
    assert errors == []
    assert row.timestamp == NOW and not row.timestamp_given
    assert row.event_id == derive_event_id("u1", "sku-1", "view", 1.0, None, "")


@pytest.mark.parametrize(("overrides", "field", "fragment"), [
    ({"user_id": ...}, "user_id", "required"),
    ({"item_id": None}, "item_id", "required"),
    ({"user_id": ["u"]}, "user_id", "must be a string"),
    ({"user_id": "   "}, "user_id", "empty"),
    ({"item_id": "x" * 129}, "item_id", "limit is 128"),
    ({"event_id": "e" * 200}, "event_id", "limit is 128"),
    ({"recommendation_id": "r" * 65}, "recommendation_id", "limit is 64"),
    ({"type": ...}, "type", "required"),
    ({"type": "like"}, "type", "not one of"),
    ({"type": 3}, "type", "not one of"),
    ({"type": ["view"]}, "type", "not one of"),
    ({"value": "abc"}, "value", "must be a number"),
    ({"value": True}, "value", "must be a number"),
    ({"value": float("nan")}, "value", "finite"),
    ({"value": float("inf")}, "value", "finite"),
    ({"value": -1}, "value", "negative"),
    ({"value": 1e9}, "value", "over the limit"),
    ({"type": "rating"}, "value", "required for a rating"),
    ({"timestamp": "yesterday"}, "timestamp", "ISO 8601"),
    ({"timestamp": "2025-13-01T00:00:00"}, "timestamp", "ISO 8601"),
    ({"timestamp": "2031-01-01T00:00:00Z"}, "timestamp", "future"),
    ({"timestamp": 0}, "timestamp", "before 2000"),
    ({"timestamp": 1_717_000_000_000}, "timestamp", "milliseconds"),
    ({"timestamp": {"t": 1}}, "timestamp", "ISO 8601 string or epoch"),
    ({"timestamp": -99_999_999_999}, "timestamp", "before 2000"),
    ({"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp", "out of range"),
    ({"timestamp": "9999-12-31T23:59:59-01:00"}, "timestamp", "out of range"),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_bad_fields_are_reported_by_name(overrides, field, fragment):
    row, errors = check(event(**overrides))
    assert row is None
    assert [(e.index, e.field) for e in errors] == [(7, field)]
    assert fragment in errors[0].message


def test_every_problem_of_a_row_is_reported():
    row, errors = check({"user_id": None, "item_id": "", "type": "zap", "value": -3, "timestamp": "x"})
    assert row is None
    assert {e.field for e in errors} == {"user_id", "item_id", "type", "value", "timestamp"}


def test_a_little_clock_skew_is_allowed():
    row, errors = check(event(timestamp=(NOW + timedelta(seconds=200)).isoformat()))
    assert errors == [] and row is not None


def test_non_object_row():
    row, errors = check(["u1", "sku-1"])
    assert row is None and errors[0].field == "" and "object" in errors[0].message


def test_csv_text_values_are_parsed_and_empty_cells_are_absent():
    row, errors = check({"user_id": "u1", "item_id": "sku-1", "type": "", "value": "2.5", "timestamp": "1717000000",
                         "event_id": ""}, from_text=True)
    assert errors == []
    assert row.type == "view" and row.value == 2.5 and row.derived_id
    assert row.timestamp == datetime.fromtimestamp(1717000000, tz=UTC)


def test_dedupe_identical_rows_are_duplicates_and_clashing_ids_errors():
    errors: list[RowError] = []
    a, _ = check(event())
    b, _ = check(event())
    c, _ = check(event(event_id="e1"))
    d, _ = check(event(event_id="e1"))
    e, _ = check(event(event_id="e1", type="click"))
    rows, duplicates = dedupe_events([a, b, c, d, e], errors)
    assert [r.event_id for r in rows] == [a.event_id, "e1"]
    assert duplicates == 2
    assert len(errors) == 1 and errors[0].field == "event_id" and "different content" in errors[0].message


def test_item_is_cleaned_and_only_sent_fields_are_kept():
    errors: list[RowError] = []
    row = clean_item({"item_id": "sku-1", "title": " Kettle ", "price": 19.9, "attributes": {"brand": "Ferro"}},
                     0, errors)
    assert errors == []
    assert row.fields == {"title": "Kettle", "price": Decimal("19.90"), "attributes": {"brand": "Ferro"}}


@pytest.mark.parametrize(("raw", "field"), [
    ({"item_id": "a"}, "title"),
    ({"item_id": "a", "title": ""}, "title"),
    ({"item_id": "a", "title": "t", "price": -1}, "price"),
    ({"item_id": "a", "title": "t", "price": "abc"}, "price"),
    ({"item_id": "a", "title": "t", "price": "NaN"}, "price"),
    ({"item_id": "a", "title": "t", "price": 1e20}, "price"),
    ({"item_id": "a", "title": "t", "available": "yes"}, "available"),
    ({"item_id": "a", "title": "t", "attributes": ["x"]}, "attributes"),
    ({"item_id": "a", "title": "t", "url": "javascript:alert(1)"}, "url"),
    ({"item_id": "a", "title": "t", "colour": "red"}, "colour"),
    ({"title": "t"}, "item_id"),
])
def test_bad_items(raw, field):
    errors: list[RowError] = []
    assert clean_item(raw, 3, errors) is None
    assert errors[0].field == field and errors[0].index == 3


def test_item_csv_extra_columns_become_attributes():
    errors: list[RowError] = []
    row = clean_item({"item_id": "a", "title": "t", "category": "", "available": "no", "brand": "Acme", "size": "",
                      "price": ""}, 2, errors, from_text=True, attribute_columns=frozenset({"brand", "size"}))
    assert errors == []
    assert row.fields == {"title": "t", "category": "", "available": False, "price": None,
                          "attributes": {"brand": "Acme"}}
    # An empty `available` cell leaves the stored value alone.
    row = clean_item({"item_id": "a", "title": "t", "category": "c", "available": " "}, 3, errors, from_text=True)
    assert errors == [] and "available" not in row.fields


def test_dedupe_items_merges_later_rows_over_earlier():
    errors: list[RowError] = []
    first = clean_item({"item_id": "a", "title": "old", "price": 1}, 0, errors)
    second = clean_item({"item_id": "a", "title": "new"}, 1, errors)
    (merged,) = dedupe_items([first, second])
    assert merged.fields == {"title": "new", "price": Decimal("1.00")}


def test_ids_with_control_characters_are_refused():
    row, errors = check(event(user_id="u1\tx", item_id="sku\x1f1"))
    assert row is None and {e.field for e in errors} == {"user_id", "item_id"}
    assert "control characters" in errors[0].message


def test_empty_optional_ids_mean_none():
    row, errors = check(event(event_id="", recommendation_id=""))
    assert errors == [] and row.derived_id and row.recommendation_id == ""


CSV_CASES = [
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "2025-05-01T10:00:00.123456+00:00"},
    {"user_id": " u1 ", "item_id": "sku-1 ", "type": "", "value": "2.5", "timestamp": " 2025-05-01T10:00:00+02:00 "},
    {"user_id": "u1", "item_id": "sku-1", "type": "purchase", "value": "3", "timestamp": "2025-05-01 10:00:00"},
    {"user_id": "u1", "item_id": "sku-1", "type": "rating", "value": "", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "rating", "value": "4", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "nan", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "inf", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "-0.0", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "-1", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "1000001", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "x", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "View", "value": "", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": ""},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "1746093600.5"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "1999-12-31T23:59:59Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "2025-06-01T12:05:01Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "2025-13-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "-5"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "0001-01-01T00:00:00+01:00"},
    {"user_id": "", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "   ", "item_id": "", "type": "view", "value": "", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u\t1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u\u00a01", "item_id": "skü-1", "type": "view", "value": "", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u" * 128, "item_id": "i" * 129, "type": "view", "value": "", "timestamp": "2025-05-01T10:00:00Z"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "2025-05-01T10:00:00Z",
     "event_id": "e-1", "recommendation_id": "r-1"},
    {"user_id": "u1", "item_id": "sku-1", "type": "view", "value": "", "timestamp": "2025-05-01T10:00:00Z",
     "event_id": "", "recommendation_id": "r\n1"},
]


def test_the_csv_fast_path_gives_exactly_what_clean_event_gives():
    """clean_text_events inlines the common case; every row must come out as clean_event says."""
    chunk = [(line, row) for line, row in enumerate(CSV_CASES * 2, start=2)]
    expected_errors: list[RowError] = []
    expected = [r for line, raw in chunk if (r := clean_event(raw, line, RULES, expected_errors, from_text=True))]
    errors: list[RowError] = []
    assert clean_text_events(chunk, RULES, errors) == expected
    assert errors == expected_errors
    assert 10 < len(expected) < len(chunk) and len(errors) > 10  # both kinds of row were exercised
