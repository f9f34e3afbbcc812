"""The hand-written fast path for list query parameters agrees with the DRF serializers it skips.

For every query: either the fast path answers None (and the view asks the serializer, which gives
the 400s), or the serializer accepts the query with exactly the same values. The usual queries
(canonical values) must take the fast path, or it saves nothing.
"""
from __future__ import annotations

import itertools
import random

import pytest

from recsys.core.limits import CATEGORY_MAX_LENGTH, ID_MAX_LENGTH
from recsys.serving import api as serving_api
from recsys.serving.api import ListParams, SimilarParams, fast_list_params
from tests import serving_world

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

# Per parameter: the canonical values (the fast path must take them) and everything else worth trying:
# other spellings the serializer accepts (the fast path may leave them to it), and invalid values.
CANONICAL = {
    "limit": ["1", "5", "10", "42", "100"],
    "placement": ["home", "product_page", "cart-2", "0", "a" * 64],
    "category": ["garden", "Bücher & Spiele", "a b", "x" * CATEGORY_MAX_LENGTH],
    "include_seen": ["true", "false", "1", "0"],
    "raw": ["true", "false", "1", "0"],
    "explain": ["full"],
    "user_id": ["u42", "anon-7f3a", "u" * ID_MAX_LENGTH],
}
UNUSUAL = {
    "limit": ["0", "101", "007", "010", "-1", "+5", "1.5", "1e2", "0x10", "²", "٣", "", " 5", "5 ", "10\n", "1000",
              "9" * 40, "ten"],
    "placement": ["Home", "", " home", "home ", "home\n", "-home", "_x", "x y", "hömé", "a" * 65, "a\tb", "a/b"],
    "category": ["", " garden ", "garden\n", "\u00a0garden", "x" * (CATEGORY_MAX_LENGTH + 1), "a\x00b", "tab\there",
                 "\u200b", "line\u2028break", "\ud800", "  "],
    "include_seen": ["True", "FALSE", "yes", "no", "on", "off", "t", "f", "y", "n", "maybe", "", " true", "2"],
    "raw": ["True", "false ", "YES", "nope", "", "null"],
    "explain": ["", "FULL", "partial", " full"],
    "user_id": ["", " u42", "u42 ", "u\n", "ü", "u" * (ID_MAX_LENGTH + 1), "a\x00b"],
}
EXTRA = {"other": ["ignored", ""], "page": ["2"], "format": ["json"]}  # parameters both ignore


def _check(query: dict, serializer_cls) -> dict | None:
    fast = fast_list_params(query, with_user_id=serializer_cls is SimilarParams)
    serializer = serializer_cls(data=query)
    valid = serializer.is_valid()
    if fast is not None:  # the fast path only answers what the serializer accepts, with the same values
        assert valid, (query, serializer.errors)
        assert fast == dict(serializer.validated_data), query
    return fast


def _random_queries(n: int, seed: int, pools: dict[str, list[str]], presence: float = 0.5) -> list[dict]:
    rng = random.Random(seed)
    queries = []
    for _ in range(n):
        query = {key: rng.choice(values) for key, values in pools.items() if rng.random() < presence}
        if rng.random() < 0.2:
            key = rng.choice(list(EXTRA))
            query[key] = rng.choice(EXTRA[key])
        queries.append(query)
    return queries


ALL_VALUES = {key: CANONICAL[key] + UNUSUAL[key] for key in CANONICAL}


@pytest.mark.parametrize("serializer_cls", [ListParams, SimilarParams])
@pytest.mark.parametrize("query", QUERIES)
def test_fast_path_agrees_with_the_serializer(serializer_cls, query):
    _check(query, serializer_cls)


@pytest.mark.parametrize("serializer_cls", [ListParams, SimilarParams])
def test_every_single_parameter_value_agrees(serializer_cls):
    for key, values in ALL_VALUES.items():
        for value in values:
            _check({key: value}, serializer_cls)


@pytest.mark.parametrize("serializer_cls", [ListParams, SimilarParams])
def test_random_mixes_of_valid_and_invalid_values_agree(serializer_cls):
    rejected = taken = 0
    for query in _random_queries(1500, seed=20240501, pools=ALL_VALUES, presence=0.3):
        taken += _check(query, serializer_cls) is not None
        rejected += not serializer_cls(data=query).is_valid()
    assert taken > 150 and rejected > 150, (taken, rejected)  # the mix exercised both sides


@pytest.mark.parametrize("serializer_cls", [ListParams, SimilarParams])
def test_the_usual_queries_take_the_fast_path(serializer_cls):
    with_user_id = serializer_cls is SimilarParams
    pools = CANONICAL if with_user_id else {k: v for k, v in CANONICAL.items() if k != "user_id"}
    queries = _random_queries(500, seed=7, pools=pools)
    every_key = itertools.islice(itertools.product(*pools.values()), 300)
    queries += [dict(zip(pools, combo, strict=True)) for combo in every_key]
    for query in queries:
        assert _check(query, serializer_cls) is not None, query


@pytest.mark.parametrize("key", ["limit", "placement", "category", "include_seen", "raw", "explain"])
def test_each_invalid_value_leaves_the_query_to_the_serializer(key):
    for value in UNUSUAL[key]:
        if not ListParams(data={key: value}).is_valid():
            assert fast_list_params({key: value}) is None, (key, value)
            assert fast_list_params({"limit": "10", "raw": "0", key: value}) is None, (key, value)


def test_fast_path_takes_the_usual_queries():
    assert fast_list_params({"limit": "10", "placement": "home"}) == {
        "limit": 10, "placement": "home", "category": "", "include_seen": False, "raw": False}
    assert fast_list_params({"raw": "true", "category": "garden"})["raw"] is True
    assert fast_list_params({"limit": "0"}) is None and fast_list_params({"placement": "Home"}) is None
    assert "user_id" not in fast_list_params({"user_id": "u1"})  # personal lists take the id from the path
    assert fast_list_params({"user_id": "u1"}, with_user_id=True)["user_id"] == "u1"


# --- through the views: the same answer whichever path parsed the query ---------------------------------

@pytest.fixture
def shop(db, tmp_path, settings):
    settings.MODEL_DIR = tmp_path / "models"
    serving_world.reset_serving_caches()
    serving_world.build_shop()
    yield
    serving_world.reset_serving_caches()


def _lists(api, queries) -> list[tuple[int, object]]:
    out = []
    for path, query in queries:
        response = api.get(path, query)
        body = response.json()
        if response.status_code == 200:
            body.pop("recommendation_id")
        out.append((response.status_code, body))
    return out


def test_views_answer_the_same_with_and_without_the_fast_path(read_api, shop, monkeypatch):
    item = serving_world.item_id("garden", 0)
    queries = [("/api/v1/popular/", q) for q in ({}, {"limit": "3"}, {"limit": "5", "raw": "1"},
                                                 {"category": "garden", "limit": "2"}, {"limit": "0"})]
    queries += [("/api/v1/users/u1/recommendations/", q) for q in ({"limit": "4", "include_seen": "true"},
                                                                   {"placement": "home"}, {"placement": "Home"})]
    queries += [(f"/api/v1/items/{item}/similar/", q) for q in ({"limit": "3", "user_id": "u1"}, {"user_id": ""})]
    fast = _lists(read_api, queries)
    monkeypatch.setattr(serving_api, "fast_list_params", lambda query, **kw: None)
    assert _lists(read_api, queries) == fast
    assert [status for status, _ in fast].count(400) == 3
