"""Lean batch validation for items and events: pure Python, no ORM, no DRF serializers.

The API and the import commands share these functions, so a row is judged the same way
whichever door it comes through. Per-row DRF serializers cost ~100 µs a row; these cost a
few µs, which is what lets one gunicorn worker accept tens of thousands of events a second.

Rows come from JSON (typed values: strict) or from CSV (every value a string: `from_text=True`,
numbers and booleans are parsed, empty cells mean "absent"). Each problem is reported as a
`RowError(index, field, message)`; `index` is the position in the batch or the file's line number.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from recsys.catalog.links import link_problem
from recsys.core.limits import (
    CATEGORY_MAX_LENGTH,
    ID_MAX_LENGTH,
    RECOMMENDATION_ID_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    URL_MAX_LENGTH,
)
from recsys.ml.events import DEFAULT_TYPE, EVENT_TYPES

_EVENT_TYPE_SET = frozenset(EVENT_TYPES)
EVENT_FIELDS = frozenset({"user_id", "item_id", "type", "value", "timestamp", "event_id", "recommendation_id"})
MAX_EVENT_VALUE = 1_000_000.0
# Events before this are a data error (a zero or a seconds/milliseconds mix-up), not history.
MIN_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)

ITEM_FIELDS = frozenset({"item_id", "title", "category", "url", "image_url", "price", "attributes", "available"})
MAX_PRICE = Decimal("9999999999.99")  # DecimalField(max_digits=12, decimal_places=2)
MAX_ATTRIBUTES_CHARS = 10_000

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRUE_TEXT = frozenset({"1", "true", "yes", "y", "t", "on"})
_FALSE_TEXT = frozenset({"0", "false", "no", "n", "f", "off"})


class RowError(NamedTuple):
    index: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "message": self.message}


class EventRow(NamedTuple):
    """A valid event. `timestamp` is aware UTC; `timestamp_given` is False when the server filled it."""

    index: int
    event_id: str
    user_id: str
    item_id: str
    type: str
    value: float
    timestamp: datetime
    timestamp_given: bool
    recommendation_id: str
    derived_id: bool  # event_id computed from the content: equal id means equal content

    def same_content(self, user_id: str, item_id: str, type_: str, value: float, timestamp: datetime,
                     recommendation_id: str) -> bool:
        """Whether a stored event with this id says the same thing (timestamp only if this row sent one)."""
        return (
            self.user_id == user_id and self.item_id == item_id and self.type == type_ and self.value == value
            and self.recommendation_id == (recommendation_id or "")
            and (not self.timestamp_given or self.timestamp == timestamp)
        )


class ItemRow(NamedTuple):
    """A valid item. `fields` holds only what the row sent (besides item_id): an update leaves the rest."""

    index: int
    item_id: str
    fields: dict


@dataclass
class EventRules:
    """Limits that come from settings; passed in so this module stays free of Django."""

    now: datetime
    max_future_seconds: int = 300

    def __post_init__(self):
        self.latest = self.now + timedelta(seconds=self.max_future_seconds)


# --- scalar checks: return the clean value, or raise _Bad(message) -------------------------
class _Bad(Exception):
    pass


def _identifier(raw: Any, max_length: int = ID_MAX_LENGTH, strict: bool = False) -> str:
    if isinstance(raw, str):
        value = raw.strip()
    elif isinstance(raw, int) and not isinstance(raw, bool) and not strict:  # files: 42 is "42"
        value = str(raw)
    else:
        raise _Bad(f"must be a string, not {_type_name(raw)}")
    if not value:
        raise _Bad("must not be empty")
    if len(value) > max_length:
        raise _Bad(f"is {len(value)} characters long; the limit is {max_length}")
    if _CONTROL.search(value):
        raise _Bad("must not contain control characters (tabs, newlines, ...)")
    return value


def _text(raw: Any, max_length: int, *, required: bool = False) -> str:
    if not isinstance(raw, str):
        raise _Bad(f"must be a string, not {_type_name(raw)}")
    value = raw.strip()
    if required and not value:
        raise _Bad("must not be empty")
    if len(value) > max_length:
        raise _Bad(f"is {len(value)} characters long; the limit is {max_length}")
    return value


def _number(raw: Any, from_text: bool) -> float:
    if from_text and isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            raise _Bad(f"{raw!r} is not a number")
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    else:
        raise _Bad(f"must be a number, not {_type_name(raw)}")
    if not math.isfinite(value):
        raise _Bad("must be a finite number (no NaN or infinity)")
    return value


def _bool(raw: Any, from_text: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    if from_text and isinstance(raw, str):
        text = raw.strip().lower()
        if text in _TRUE_TEXT:
            return True
        if text in _FALSE_TEXT:
            return False
        raise _Bad(f"{raw!r} is not a boolean (use true/false, 1/0, yes/no)")
    raise _Bad(f"must be true or false, not {_type_name(raw)}")


def _timestamp(raw: Any, rules: EventRules) -> datetime:
    if isinstance(raw, str):
        text = raw.strip()
        if text.replace(".", "", 1).isdigit():  # epoch seconds sent as text (CSV)
            ts = _from_epoch(float(text))
        else:
            try:
                ts = datetime.fromisoformat(text)
            except ValueError:
                raise _Bad(f"{raw!r} is not an ISO 8601 time (e.g. 2024-05-01T12:00:00Z) or epoch seconds")
            try:  # an offset at the ends of the calendar overflows the conversion
                ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
            except OverflowError:
                raise _Bad(f"{raw!r} is out of range")
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        ts = _from_epoch(float(raw))
    else:
        raise _Bad(f"must be an ISO 8601 string or epoch seconds, not {_type_name(raw)}")
    if ts < MIN_TIMESTAMP:
        raise _Bad(f"{ts.isoformat()} is before {MIN_TIMESTAMP.date()}; is it in milliseconds or zero?")
    if ts > rules.latest:
        raise _Bad(f"{ts.isoformat()} is in the future (server time {rules.now.isoformat(timespec='seconds')})")
    return ts


def _from_epoch(seconds: float) -> datetime:
    if not math.isfinite(seconds) or abs(seconds) > 1e11:  # beyond year 5000: milliseconds or garbage
        raise _Bad(f"{seconds!r} is not plausible epoch seconds (milliseconds?)")
    if seconds < MIN_TIMESTAMP.timestamp():  # before converting: large negatives overflow the calendar
        raise _Bad(f"{seconds!r} is before {MIN_TIMESTAMP.date()}; is it in milliseconds or zero?")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _type_name(raw: Any) -> str:
    return {dict: "an object", list: "a list", type(None): "null", bool: "a boolean", str: "a string",
            int: "a number", float: "a number"}.get(type(raw), type(raw).__name__)


def derive_event_id(user_id: str, item_id: str, type_: str, value: float, timestamp: datetime | None,
                    recommendation_id: str) -> str:
    """A deterministic id from an event's content: resending the same event gives the same id.

    The time enters as epoch seconds (a float tells microseconds apart up to year 2200), so
    "…Z" and "…+00:00" spellings of one instant give one id.
    """
    ts = "" if timestamp is None else repr(timestamp.timestamp())
    key = "\x1f".join((user_id, item_id, type_, repr(value), ts, recommendation_id))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


# --- events --------------------------------------------------------------------------------
def clean_event(raw: Any, index: int, rules: EventRules, errors: list[RowError], *,
                from_text: bool = False, strict_ids: bool = False) -> EventRow | None:
    """One event, or None with its problems appended to `errors` (all of them, not just the first).
    `strict_ids` (the API: its schema says string): a number is not an id.

    This runs for every row of every batch and file: keep the common path free of extra calls.
    """
    if not isinstance(raw, dict):
        errors.append(RowError(index, "", f"each event must be an object, not {_type_name(raw)}"))
        return None
    n_before = len(errors)
    if from_text:  # CSV: an empty cell is an absent field; the reader has checked the columns
        def get(name, _get=raw.get):
            return _get(name) or None
    else:
        get = raw.get
        if not raw.keys() <= EVENT_FIELDS:
            unknown = sorted(raw.keys() - EVENT_FIELDS)
            errors.append(RowError(index, unknown[0], f"unknown field(s) {', '.join(unknown)}; "
                                                      f"allowed: {', '.join(sorted(EVENT_FIELDS))}"))
    user_id = _required_id(get("user_id"), "user_id", index, errors, strict_ids)
    item_id = _required_id(get("item_id"), "item_id", index, errors, strict_ids)

    type_ = get("type") or (DEFAULT_TYPE if from_text else None)
    if type(type_) is not str or type_ not in _EVENT_TYPE_SET:
        message = f"{type_!r} is not one of" if type_ is not None else "is required: one of"
        errors.append(RowError(index, "type", f"{message} {', '.join(EVENT_TYPES)}"))

    value = 1.0
    raw_value = get("value")
    if raw_value is None:
        if type_ == "rating":
            errors.append(RowError(index, "value", "is required for a rating"))
    else:
        try:
            value = _number(raw_value, from_text)
            if value < 0:
                raise _Bad(f"{value!r} is negative")
            if value > MAX_EVENT_VALUE:
                raise _Bad(f"{value!r} is over the limit of {MAX_EVENT_VALUE:,.0f}")
        except _Bad as bad:
            errors.append(RowError(index, "value", str(bad)))

    raw_ts = get("timestamp")
    timestamp = None
    if raw_ts is not None:
        try:
            timestamp = _timestamp(raw_ts, rules)
        except _Bad as bad:
            errors.append(RowError(index, "timestamp", str(bad)))

    # Optional ids: absent, null and "" all mean "none".
    recommendation_id = get("recommendation_id")
    if recommendation_id not in (None, ""):
        recommendation_id = _optional_id(recommendation_id, "recommendation_id", index, errors,
                                         RECOMMENDATION_ID_MAX_LENGTH, strict_ids)
    event_id = get("event_id")
    if event_id not in (None, ""):
        event_id = _optional_id(event_id, "event_id", index, errors, ID_MAX_LENGTH, strict_ids)

    if len(errors) > n_before:
        return None
    recommendation_id = recommendation_id or ""
    derived = not event_id
    if derived:
        event_id = derive_event_id(user_id, item_id, type_, value, timestamp, recommendation_id)
    return EventRow(index, event_id, user_id, item_id, type_, value,
                    rules.now if timestamp is None else timestamp, timestamp is not None,
                    recommendation_id, derived)


def clean_text_events(chunk: list[tuple[int, dict]], rules: EventRules, errors: list[RowError]) -> list[EventRow]:
    """`clean_event(..., from_text=True)` for a chunk of CSV rows, with the common case inlined.

    A row that is plainly valid (printable ids, a known type, a plain number, an ISO time) is
    accepted here with exactly the result `clean_event` gives; anything else goes to `clean_event`,
    which has the final word and the messages. Several times faster per row: imports run this
    on every line of the file.
    """
    rows: list[EventRow] = []
    append = rows.append
    types, latest = _EVENT_TYPE_SET, rules.latest
    fromisoformat, utc, sha256, slow = datetime.fromisoformat, UTC, hashlib.sha256, clean_event
    for index, raw in chunk:
        get = raw.get
        user_id = get("user_id")
        item_id = get("item_id")
        type_ = get("type") or DEFAULT_TYPE
        value = get("value")
        raw_ts = get("timestamp")
        try:
            user_id = user_id.strip()
            item_id = item_id.strip()
            if (not user_id or not item_id or len(user_id) > ID_MAX_LENGTH or len(item_id) > ID_MAX_LENGTH
                    or type_ not in types or get("event_id") or get("recommendation_id")
                    or not user_id.isprintable() or not item_id.isprintable()):  # printable: no controls
                raise _Bad
            if value:
                value = float(value)
                if not 0.0 <= value <= MAX_EVENT_VALUE:  # NaN and infinities fail too
                    raise _Bad
            elif type_ == "rating":
                raise _Bad
            else:
                value = 1.0
            if not raw_ts:
                raise _Bad  # the server's time: rare in files, left to clean_event
            if "-" not in raw_ts:
                raise _Bad  # perhaps epoch seconds
            ts = fromisoformat(raw_ts.strip())
            ts = ts.replace(tzinfo=utc) if ts.tzinfo is None else ts.astimezone(utc)
            if ts < MIN_TIMESTAMP or ts > latest:
                raise _Bad
        except (_Bad, ValueError, AttributeError, TypeError, OverflowError):
            row = slow(raw, index, rules, errors, from_text=True)
            if row is not None:
                append(row)
            continue
        # derive_event_id(user_id, item_id, type_, value, ts, ""), inlined (a test holds them equal)
        event_id = sha256(f"{user_id}\x1f{item_id}\x1f{type_}\x1f{value!r}\x1f{ts.timestamp()!r}\x1f".encode()
                          ).hexdigest()[:32]
        append(EventRow(index, event_id, user_id, item_id, type_, value, ts, True, "", True))
    return rows


def _required_id(raw: Any, name: str, index: int, errors: list[RowError], strict: bool = False) -> str | None:
    if raw is None:
        errors.append(RowError(index, name, "is required"))
        return None
    return _optional_id(raw, name, index, errors, ID_MAX_LENGTH, strict)


def _optional_id(raw: Any, name: str, index: int, errors: list[RowError], max_length: int,
                 strict: bool = False) -> str | None:
    try:
        return _identifier(raw, max_length, strict)
    except _Bad as bad:
        errors.append(RowError(index, name, str(bad)))
        return None


def dedupe_events(rows: list[EventRow], errors: list[RowError], *, unit: str = "row") -> tuple[list[EventRow], int]:
    """Collapse repeats inside one batch: identical content is a duplicate, a clashing id an error.

    Returns the unique rows and how many duplicates were dropped.
    """
    first: dict[str, EventRow] = {}
    duplicates = 0
    for row in rows:
        seen = first.get(row.event_id)
        if seen is None:
            first[row.event_id] = row
        elif row.derived_id or (seen.timestamp_given == row.timestamp_given and seen.same_content(
                row.user_id, row.item_id, row.type, row.value, row.timestamp, row.recommendation_id)):
            duplicates += 1
        else:
            errors.append(RowError(row.index, "event_id",
                                   f"event_id {row.event_id!r} was already used by {unit} {seen.index} "
                                   "with different content"))
    return list(first.values()), duplicates


# --- items ---------------------------------------------------------------------------------
def clean_item(raw: Any, index: int, errors: list[RowError], *, from_text: bool = False,
               attribute_columns: frozenset[str] = frozenset(), strict_ids: bool = False) -> ItemRow | None:
    """One item, or None with its problems appended. CSV columns outside ITEM_FIELDS are attributes.
    `strict_ids` (the API): a number is not an id."""
    if not isinstance(raw, dict):
        errors.append(RowError(index, "", f"each item must be an object, not {_type_name(raw)}"))
        return None
    n_before = len(errors)
    fields: dict[str, Any] = {}
    if from_text:
        # A CSV column is sent for every row: an empty cell clears the field (no price, no category),
        # except `available`, which then keeps its value. Extra columns replace the attributes.
        text = {k: v for k, v in raw.items() if k not in attribute_columns and not (k == "available" and not v.strip())}
        if text.get("price", "x").strip() == "":
            text["price"] = None
        if attribute_columns:
            text["attributes"] = {k: raw[k].strip() for k in attribute_columns if raw.get(k, "").strip()}
        raw = text
    unknown = raw.keys() - ITEM_FIELDS
    if unknown:
        errors.append(RowError(index, sorted(unknown)[0],
                               f"unknown field(s) {', '.join(sorted(unknown))}; put extra data in 'attributes'"))
    item_id = _required_id(raw.get("item_id"), "item_id", index, errors, strict_ids)
    for name, limit, required in (("title", TITLE_MAX_LENGTH, True), ("category", CATEGORY_MAX_LENGTH, False),
                                  ("url", URL_MAX_LENGTH, False), ("image_url", URL_MAX_LENGTH, False)):
        if name not in raw or raw[name] is None:
            if required:
                errors.append(RowError(index, name, "is required"))
            elif name in raw:
                fields[name] = ""
            continue
        try:
            value = _text(raw[name], limit, required=required)
            if name in ("url", "image_url") and value and (problem := link_problem(value)):
                raise _Bad(problem)
            fields[name] = value
        except _Bad as bad:
            errors.append(RowError(index, name, str(bad)))
    if "price" in raw:
        try:
            fields["price"] = _price(raw["price"])
        except _Bad as bad:
            errors.append(RowError(index, "price", str(bad)))
    if "available" in raw:
        try:
            fields["available"] = _bool(raw["available"], from_text)
        except _Bad as bad:
            errors.append(RowError(index, "available", str(bad)))
    if "attributes" in raw:
        try:
            fields["attributes"] = _attributes(raw["attributes"])
        except _Bad as bad:
            errors.append(RowError(index, "attributes", str(bad)))
    if len(errors) > n_before:
        return None
    return ItemRow(index, item_id, fields)


def _price(raw: Any) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _Bad(f"must be a number or a decimal string, not {_type_name(raw)}")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise _Bad(f"{raw!r} is not a number")
    if not value.is_finite():
        raise _Bad("must be a finite number")
    if value < 0:
        raise _Bad(f"{raw!r} is negative")
    if value > MAX_PRICE:
        raise _Bad(f"{raw!r} is over the limit of {MAX_PRICE}")
    return value.quantize(Decimal("0.01"))


def _attributes(raw: Any) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _Bad(f"must be an object of name: value pairs, not {_type_name(raw)}")
    size = len(repr(raw))
    if size > MAX_ATTRIBUTES_CHARS:
        raise _Bad(f"is about {size} characters; the limit is {MAX_ATTRIBUTES_CHARS}")
    return raw


def dedupe_items(rows: list[ItemRow]) -> list[ItemRow]:
    """The last row for an item_id wins inside one batch, merged over the earlier ones (a feed's order)."""
    merged: dict[str, ItemRow] = {}
    for row in rows:
        seen = merged.get(row.item_id)
        merged[row.item_id] = row if seen is None else ItemRow(seen.index, row.item_id, {**seen.fields, **row.fields})
    return list(merged.values())
