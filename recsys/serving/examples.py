"""Examples of list requests and answers for the OpenAPI schema (`/api/docs/`, schemathesis' examples phase).

tests/http/test_schema_contract.py checks every response example against its component."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

LIST_ITEM = {
    "item_id": "sku-9", "title": "Trail running shoes", "category": "shoes", "url": "https://shop.example/p/sku-9",
    "image_url": "https://img.shop.example/sku-9.jpg", "price": "89.90", "rank": 1, "score": 0.82, "source": "model",
    "reasons": [{"type": "history", "text": "Because you bought Running socks", "item_id": "sku-2"}],
    "annotations": [],
}
PINNED_ITEM = {
    "item_id": "sku-4", "title": "Rain jacket", "category": "outdoor", "url": "https://shop.example/p/sku-4",
    "image_url": "https://img.shop.example/sku-4.jpg", "price": "129.00", "rank": 2, "score": 0.0,
    "source": "pinned", "reasons": [{"type": "curated", "text": "Staff pick"}],
    "annotations": [{"label": "Staff pick"}],
}
PERSONAL_LIST = {
    "user_id": "u-481", "recommendation_id": "0190f3a2c1d77c3e9a51b2c4d6e8f012", "model_version": 3,
    "placement": "home", "items": [LIST_ITEM, PINNED_ITEM],
}
EXPLAINED_ITEM = {
    **PINNED_ITEM,
    "trace": {"algorithm_rank": 7, "algorithm_score": 0.41, "final_rank": 2,
              "rules": [{"id": 12, "type": "pin", "name": "Rain jacket at #2", "effect": "pinned at #2",
                        "action": "pinned"}]},
}
POPULAR_ITEM = {
    **LIST_ITEM, "rank": 1, "score": 1.0, "source": "popular",
    "reasons": [{"type": "popular", "text": "Popular right now"}],
}

PERSONAL = [
    OpenApiExample("A shopper's list", response_only=True, value=PERSONAL_LIST),
    OpenApiExample("With ?explain=full (write scope)", response_only=True, value={
        **PERSONAL_LIST, "items": [LIST_ITEM, EXPLAINED_ITEM]}),
]
SIMILAR = [OpenApiExample("Similar items", response_only=True, value={
    "user_id": None, "recommendation_id": "0190f3a2c1d77c3e9a51b2c4d6e8f013", "model_version": 3,
    "placement": "product_page",
    "items": [{**LIST_ITEM, "reasons": [{"type": "similar", "text": "Similar to Road shoes", "item_id": "sku-1"}]}],
})]
POPULAR = [
    OpenApiExample("Popular items", response_only=True, value={
        "user_id": None, "recommendation_id": "0190f3a2c1d77c3e9a51b2c4d6e8f014", "model_version": None,
        "placement": None, "items": [POPULAR_ITEM]}),
    OpenApiExample("The raw list (?raw=true)", response_only=True, value={
        "user_id": None, "recommendation_id": "0190f3a2c1d77c3e9a51b2c4d6e8f015", "model_version": None,
        "placement": None, "items": [POPULAR_ITEM], "raw": True}),
]
BASKET = [
    OpenApiExample("A cart of two items", request_only=True,
                   value={"item_ids": ["sku-1", "sku-2"], "user_id": "u-481", "limit": 4, "placement": "cart"}),
    OpenApiExample("Items that go with the cart", response_only=True, value={
        "user_id": "u-481", "recommendation_id": "0190f3a2c1d77c3e9a51b2c4d6e8f016", "model_version": 3,
        "placement": "cart", "items": [{**LIST_ITEM, "reasons": [
            {"type": "similar", "text": "Goes with Road shoes in your cart", "item_id": "sku-1"}]}]}),
]
BATCH = [
    OpenApiExample("Two shoppers' email lists", request_only=True,
                   value={"user_ids": ["u-481", "u-482"], "limit": 5, "placement": "email"}),
    OpenApiExample("One list per shopper", response_only=True, value={"results": [
        {**PERSONAL_LIST, "placement": "email", "items": [LIST_ITEM]},
        {**PERSONAL_LIST, "user_id": "u-482", "recommendation_id": "0190f3a2c1d77c3e9a51b2c4d6e8f017",
         "placement": "email", "items": [POPULAR_ITEM]}]}),
]
