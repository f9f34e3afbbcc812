"""Field limits and id conventions shared by the models, the validators and the API (pure, no Django).

Each exists once: the models' `max_length`, the batch validators and the DRF serializers read them here.
"""
ID_MAX_LENGTH = 128  # item_id, user_id, event_id
RECOMMENDATION_ID_MAX_LENGTH = 64
TITLE_MAX_LENGTH = 500
CATEGORY_MAX_LENGTH = 200
URL_MAX_LENGTH = 2000
# Every shopper id of the demo shop starts with this; the demo API scope relies on it.
DEMO_USER_PREFIX = "demo-"
# Every item id of the demo shop starts with this; the demo API scope accepts events about these items only.
DEMO_ITEM_PREFIX = "demo-sku-"
# A placement name (home, cart, product_page, ...): what the list endpoints accept and rules target.
PLACEMENT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
