"""Form widgets for the rule forms: an item picker with thumbnails, a key/value editor, a list editor.

Each one posts plain form fields and works without JavaScript (so with the keyboard alone and in any
browser); curation/static/curation/rule_form.js adds the item search and the "add a pair" button.
The key/value and list editors hand the JSON model fields a JSON string, as their own textarea would.
"""
from __future__ import annotations

import json
import re

from django import forms

from recsys.catalog.models import Item

MEDIA = forms.Media(css={"all": ("curation/board.css",)}, js=("curation/rule_form.js",))


def _decoded(value):
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except ValueError:
            return None
    return value


class ItemPickerWidget(forms.TextInput):
    """The item id in a text box, the chosen item's thumbnail and title beside it, and a search that
    lists matching items with thumbnails (ids, titles) to pick from."""

    template_name = "curation/widgets/item_picker.html"

    def __init__(self, attrs=None):
        super().__init__({"class": "item-picker-input", "autocomplete": "off", "size": 24, **(attrs or {})})

    @property
    def media(self):
        return MEDIA

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        item_id = str(value) if value not in (None, "") else ""
        item = Item.objects.filter(item_id=item_id).values("item_id", "title", "image_url", "price", "category",
                                                          "available").first() if item_id else None
        context["widget"]["item"] = item
        context["widget"]["unknown"] = bool(item_id) and item is None
        return context

    def format_value(self, value):
        # A bound ModelChoiceField hands over the item's pk on redisplay; show the shop's item id instead.
        if isinstance(value, int):
            return Item.objects.filter(pk=value).values_list("item_id", flat=True).first() or str(value)
        return super().format_value(value)


class KeyValueWidget(forms.Widget):
    """Rows of name / value inputs for a JSON object (e.g. {"brand": "Acme"}); empty rows are ignored.
    `integers`: values are whole numbers (diversity caps); anything else is passed on for the model to refuse."""

    template_name = "curation/widgets/key_value.html"
    spare_rows = 2

    def __init__(self, *, key_label="name", value_label="value", integers=False, attrs=None):
        super().__init__(attrs)
        self.key_label, self.value_label, self.integers = key_label, value_label, integers

    @property
    def media(self):
        return MEDIA

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        pairs = _decoded(value)
        rows = [(str(k), "" if v is None else str(v)) for k, v in pairs.items()] if isinstance(pairs, dict) else []
        rows += [("", "")] * self.spare_rows
        context["widget"].update(rows=rows, key_label=self.key_label, value_label=self.value_label,
                                 integers=self.integers)
        return context

    def value_from_datadict(self, data, files, name):
        keys, values = data.getlist(f"{name}__key"), data.getlist(f"{name}__value")
        pairs = {}
        for key, value in zip(keys, values, strict=False):
            key, value = key.strip(), value.strip()
            if not key and not value:
                continue
            if self.integers and re.fullmatch(r"-?\d+", value):
                pairs[key] = int(value)
            else:
                pairs[key] = value
        return json.dumps(pairs) if pairs else ""

    def value_omitted_from_data(self, data, files, name):
        return f"{name}__key" not in data


class ListWidget(forms.Textarea):
    """One entry per line (shopper ids); posts a JSON list, [] when empty."""

    def __init__(self, attrs=None):
        super().__init__({"rows": 4, "cols": 40, "class": "list-editor", "placeholder": "one user id per line",
                          **(attrs or {})})

    def format_value(self, value):
        items = _decoded(value)
        return "\n".join(str(i) for i in items) if isinstance(items, list) else ""

    def value_from_datadict(self, data, files, name):
        raw = data.get(name, "")
        pasted = _decoded(raw) if raw.strip().startswith("[") else None
        if isinstance(pasted, list):  # a JSON list pasted as is
            return json.dumps(pasted)
        return json.dumps([line.strip().strip(",") for line in raw.splitlines() if line.strip().strip(",")])
