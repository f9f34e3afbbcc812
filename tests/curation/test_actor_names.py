"""Read tokens are public (they live in browsers): a rule's `created_by` / `updated_by` (API client names and
`admin:<username>`) are left out for them, on every kind and on list and detail; write tokens keep them."""
import pytest

from curation.models import Rule
from curation.services import rule_update
from recsys.models import Item

pytestmark = pytest.mark.django_db

ACTORS = {"created_by", "updated_by"}


@pytest.fixture(autouse=True)
def items():
    Item.objects.create(item_id="sku-1", title="Kettle", category="kitchen")


@pytest.mark.parametrize(("kind", "body"), [
    ("pins", {"item_id": "sku-1", "position": 1}),
    ("blocks", {"item_category": "kitchen"}),
    ("boosts", {"item_id": "sku-1", "strength": 0.5}),
    ("annotations", {"item_id": "sku-1", "label": "Staff pick"}),
    ("diversity", {"max_per_category": 2}),
])
def test_read_scope_sees_no_actor_names_write_scope_does(kind, body, write_api, read_api):
    created = write_api.post(f"/api/v1/curation/{kind}/", body, format="json")
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["created_by"] == "api:test-writer"
    rule_update(rule=Rule.objects.get(pk=rule["id"]), data={"priority": 3}, actor="admin:alice")
    path = f"/api/v1/curation/{kind}/{rule['id']}/"
    for seen in (read_api.get(path).json(), read_api.get(f"/api/v1/curation/{kind}/").json()["results"][0]):
        assert not ACTORS & set(seen), seen
        assert "alice" not in str(seen) and "test-writer" not in str(seen)
        assert seen["id"] == rule["id"] and seen["priority"] == 3
    for seen in (write_api.get(path).json(), write_api.get(f"/api/v1/curation/{kind}/").json()["results"][0]):
        assert (seen["created_by"], seen["updated_by"]) == ("api:test-writer", "admin:alice")
