"""An item's `url` and `image_url` are absolute http(s) URLs (Django's URLValidator) or site paths with exactly one
leading slash: `//evil.example/x` and `/\\evil.example/x` (scheme-relative: another host, an open redirect for a
frontend that links them) are refused with a 400 naming the row and field, through the API, the CSV import and
the admin form alike."""
import pytest
from django.core.management import CommandError, call_command

from recsys.catalog.admin import ItemForm
from recsys.catalog.links import link_problem
from recsys.ingest.validation import RowError, clean_item
from recsys.models import Item

ITEMS = "/api/v1/items/"

REFUSED = [
    "//evil.example/x",
    "/\\evil.example/x",
    "\\\\evil.example/x",
    "/\t/evil.example/x",
    "/shoes\\..\\x",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://files.example/x",
    "https://",
    "https://exa mple.com/x",
    "evil.example/x",
    "shoes/red",
]
ACCEPTED = [
    "https://shop.example/p/1?colour=red#reviews",
    "http://localhost:8000/p/1",
    "https://10.1.2.3/img.png",
    "/p/1",
    "/",
    "/search?q=a//b",
]


@pytest.mark.parametrize("value", REFUSED)
def test_scheme_relative_and_non_http_links_are_refused(value):
    assert link_problem(value)


@pytest.mark.parametrize("value", ACCEPTED)
def test_absolute_http_urls_and_single_slash_site_paths_are_accepted(value):
    assert link_problem(value) is None


@pytest.mark.django_db
def test_the_api_answers_400_per_row_and_field_and_stores_nothing(write_api):
    batch = [
        {"item_id": "ok", "title": "Fine", "url": "/p/ok", "image_url": "https://img.shop.example/ok.jpg"},
        {"item_id": "bad-1", "title": "Redirect", "url": "//evil.example/x"},
        {"item_id": "bad-2", "title": "Backslash", "image_url": "/\\evil.example/x.jpg"},
    ]
    response = write_api.post(ITEMS, batch, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"]
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "url"), (2, "image_url")]
    assert all("another host" in e["message"] for e in body["errors"])
    assert not Item.objects.exists()

    assert write_api.post(ITEMS, batch[:1], format="json").status_code == 200
    assert Item.objects.get(item_id="ok").url == "/p/ok"


def test_the_csv_reading_refuses_them_too():
    errors: list[RowError] = []
    row = clean_item({"item_id": "a", "title": "t", "category": "c", "url": "//evil.example/x"}, 7, errors,
                     from_text=True)
    assert row is None and [(e.index, e.field) for e in errors] == [(7, "url")]


@pytest.mark.django_db
def test_import_items_refuses_the_file_with_the_line(tmp_path, capsys):
    path = tmp_path / "items.csv"
    path.write_text("item_id,title,category,url,image_url\n"
                    "a,Alpha,kitchen,/p/a,https://img.shop.example/a.jpg\n"
                    "b,Beta,kitchen,//evil.example/b,\n")
    with pytest.raises(CommandError, match="refused, nothing imported: 1 bad row"):
        call_command("import_items", str(path), "--no-progress")
    err = capsys.readouterr().err
    assert "line 3" in err and "another host" in err
    assert not Item.objects.exists()


@pytest.mark.django_db
def test_the_admin_form_refuses_them():
    form = ItemForm(data={"item_id": "a", "title": "t", "category": "", "url": "//evil.example/x",
                          "image_url": "/\\evil.example/x.jpg", "price": "", "attributes": "{}", "available": True})
    assert not form.is_valid()
    assert set(form.errors) == {"url", "image_url"}
    form = ItemForm(data={"item_id": "a", "title": "t", "category": "", "url": "/p/a", "image_url": "",
                          "price": "", "attributes": "{}", "available": True})
    assert form.is_valid(), form.errors
