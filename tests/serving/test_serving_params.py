"""The hand-written fast path for list query parameters agrees with the DRF serializers it skips."""
from __future__ import annotations

import pytest

from recsys.serving.api import ListParams, SimilarParams, fast_list_params

QUERIES = [
    {}, {"limit": "10"}, {"limit": "1"}, {"limit": "100"}, {"limit": "0"}, {"limit": "101"}, {"limit": "007"},
    {"limit": "-1"}, {"limit": "1.5"}, {"limit": "²"}, {"limit": ""}, {"limit": " 5"}, {"limit": "1000"},
    {"placement": "home"}, {"placement": "product_page-2"}, {"placement": "Home"}, {"placement": ""},
    {"placement": "home\n"}, {"placement": " home"}, {"placement": "a" * 64}, {"placement": "a" * 65},
    {"placement": "-home"}, {"category": "garden"}, {"category": "Bücher & Spiele"}, {"category": ""},
    {"category": " garden "}, {"category": "x" * 200}, {"category": "x" * 201}, {"category": "a\x00b"},
    {"include_seen": "true"}, {"include_seen": "false"}, {"include_seen": "1"}, {"include_seen": "0"},
    {"include_seen": "yes"}, {"include_seen": "maybe"}, {"raw": "true"}, {"raw": "False"}, {"raw": "nope"},
    {"explain": "full"}, {"explain": "partial"}, {"user_id": "u42"}, {"user_id": ""}, {"user_id": "u" * 129},
    {"other": "ignored", "limit": "5", "placement": "cart", "category": "books", "raw": "1", "include_seen": "0"},
]


@pytest.mark.parametrize("serializer_cls", [ListParams, SimilarParams])
@pytest.mark.parametrize("query", QUERIES)
def test_fast_path_agrees_with_the_serializer(serializer_cls, query):
    fast = fast_list_params(query, with_user_id=serializer_cls is SimilarParams)
    serializer = serializer_cls(data=query)
    valid = serializer.is_valid()
    if fast is not None:  # the fast path only answers what the serializer accepts, with the same values
        assert valid, (query, serializer.errors)
        assert fast == dict(serializer.validated_data)


def test_fast_path_takes_the_usual_queries():
    assert fast_list_params({"limit": "10", "placement": "home"}) == {
        "limit": 10, "placement": "home", "category": "", "include_seen": False, "raw": False}
    assert fast_list_params({"raw": "true", "category": "garden"})["raw"] is True
    assert fast_list_params({"limit": "0"}) is None and fast_list_params({"placement": "Home"}) is None
