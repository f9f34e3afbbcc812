"""import_items and import_events: formats, validation with line numbers, all-or-nothing, --skip-bad."""
import json

import pytest
from django.core.management import CommandError, call_command

from recsys.ingest import imports
from recsys.models import Event, Item, Shopper

pytestmark = pytest.mark.django_db


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(command, path, *args, capsys):
    call_command(command, path, "--no-progress", *args)
    return capsys.readouterr()


@pytest.fixture
def items(tmp_path, capsys):
    path = write(tmp_path, "items.csv", "item_id,title,category,price,available,brand\n"
                 "a,Alpha,kitchen,9.99,true,Acme\n"
                 'b,"Beta, ""the second""",garden,,no,\n'
                 "c,Gamma,kitchen,1,,Zeta\n")
    out = run("import_items", path, capsys=capsys).out
    assert "3 created, 0 updated" in out


def test_import_items_csv_maps_columns_and_attributes(items):
    a, b, c = Item.objects.order_by("item_id")
    assert (a.title, a.category, str(a.price), a.available, a.attributes) == ("Alpha", "kitchen", "9.99", True,
                                                                              {"brand": "Acme"})
    assert (b.title, b.price, b.available, b.attributes) == ('Beta, "the second"', None, False, {})
    assert c.available is True


def test_import_items_jsonl_updates(items, tmp_path, capsys):
    path = write(tmp_path, "items.jsonl", json.dumps({"item_id": "a", "title": "Alpha 2"}) + "\n\n"
                 + json.dumps({"item_id": "d", "title": "Delta", "attributes": {"size": "L"}}) + "\n")
    assert "1 created, 1 updated" in run("import_items", path, capsys=capsys).out
    a = Item.objects.get(item_id="a")
    assert a.title == "Alpha 2" and a.attributes == {"brand": "Acme"}  # unsent fields keep their value


def test_import_items_refuses_a_header_without_required_columns(tmp_path):
    path = write(tmp_path, "items.csv", "item_id,name\na,Alpha\n")
    with pytest.raises(CommandError, match="lacks title, category"):
        call_command("import_items", path, "--no-progress")


def test_import_events_csv_and_idempotent_rerun(items, tmp_path, capsys):
    path = write(tmp_path, "events.csv", "user_id,item_id,type,value,timestamp,event_id\n"
                 "u1,a,view,,2024-01-01T00:00:00Z,\n"
                 "u1,b,purchase,2,2024-01-02T00:00:00Z,order-1\n"
                 "u2,c,,,1704067200,\n"
                 "u2,c,,,1704067200,\n")
    out = run("import_events", path, capsys=capsys).out
    assert "4 event rows" in out and "3 stored, 1 duplicates, 2 new shoppers" in out
    out = run("import_events", path, capsys=capsys).out
    assert "0 stored, 4 duplicates, 0 new shoppers" in out
    assert Event.objects.count() == 3
    order = Event.objects.get(event_id="order-1")
    assert (order.type, order.value, order.shopper.user_id) == ("purchase", 2.0, "u1")
    assert Event.objects.get(shopper__user_id="u2").type == "view"  # the CSV default type


def test_import_events_jsonl_with_only_required_columns(items, tmp_path, capsys):
    lines = [{"user_id": "u9", "item_id": "a", "type": "click", "timestamp": "2024-03-01T10:00:00+01:00"},
             {"user_id": "u9", "item_id": "b", "type": "rating", "value": 4}]
    path = write(tmp_path, "events.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    assert "2 stored" in run("import_events", path, capsys=capsys).out
    assert Event.objects.get(type="click").timestamp.isoformat() == "2024-03-01T09:00:00+00:00"


BAD = ("user_id,item_id,type,value,timestamp,event_id\n"
       "u1,a,view,,2024-01-01T00:00:00Z,\n"        # 2 good
       "u1,zz,purchase,2,2024-01-02T00:00:00Z,\n"  # 3 unknown item
       "u2,c,,nan,1704067200,\n"                  # 4 NaN
       "u2,c,,,1704067200\n"                      # 5 too few cells
       "u3,a,view,,2024-01-01T00:00:00Z,e1\n"     # 6 good
       "u3,b,view,,2024-01-01T00:00:00Z,e1\n"     # 7 same id, other content
       "u4,b,view,,3024-01-01T00:00:00Z,\n")      # 8 far future


def test_a_bad_file_is_refused_with_line_numbers_and_nothing_imported(items, tmp_path, capsys):
    path = write(tmp_path, "bad.csv", BAD)
    with pytest.raises(CommandError, match="refused, nothing imported: 5 bad row"):
        call_command("import_events", path, "--no-progress")
    err = capsys.readouterr().err
    for line, fragment in [(3, "unknown item 'zz'"), (4, "finite"), (5, "has 5 cells"), (7, "different content"),
                           (8, "future")]:
        assert f"line {line}" in err and fragment in err
    assert "csv: line 2" not in err and "csv: line 6" not in err
    assert not Event.objects.exists() and not Shopper.objects.exists()


def test_skip_bad_imports_the_good_rows_and_reports_the_rest(items, tmp_path, capsys):
    path = write(tmp_path, "bad.csv", BAD)
    captured = run("import_events", path, "--skip-bad", capsys=capsys)
    assert "2 stored" in captured.out and "5 bad rows skipped" in captured.out
    assert "line 3" in captured.err
    assert set(Event.objects.values_list("shopper__user_id", flat=True)) == {"u1", "u3"}


def test_conflicts_across_chunks_and_with_stored_events(items, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    Event.objects.all().delete()
    rows = ["user_id,item_id,event_id,timestamp"] + [f"u{i},a,e{i},2024-01-01T00:00:0{i}Z" for i in range(5)]
    rows += ["u0,a,e0,2024-01-01T00:00:00Z", "u1,b,e1,2024-01-01T00:00:01Z"]  # repeat (line 7), clash (line 8)
    path = write(tmp_path, "chunks.csv", "\n".join(rows) + "\n")
    with pytest.raises(CommandError):
        call_command("import_events", path, "--no-progress")
    err = capsys.readouterr().err
    assert "line 8" in err and "already stored with different content" in err and "line 7" not in err
    assert not Event.objects.exists()


def test_create_items_flag(tmp_path, capsys):
    path = write(tmp_path, "events.csv", "user_id,item_id\nu1,fresh\n")
    assert "1 new items" in run("import_events", path, "--create-items", capsys=capsys).out
    assert Item.objects.get(item_id="fresh").title == "fresh"


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("user_id,item,type\n", "lacks item_id"),
    ("user_id,item_id,colour\n", "unknown column"),
])
def test_unusable_files(tmp_path, text, message):
    with pytest.raises(CommandError, match=message):
        call_command("import_events", write(tmp_path, "e.csv", text), "--no-progress")


def test_missing_file():
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_events", "/nonexistent/events.csv")


def test_bad_jsonl_line(items, tmp_path, capsys):
    path = write(tmp_path, "e.jsonl", '{"user_id": "u1", "item_id": "a", "type": "view"}\n{"user_id": \n')
    with pytest.raises(CommandError):
        call_command("import_events", path, "--no-progress")
    assert "line 2: not valid JSON" in capsys.readouterr().err


def test_a_file_that_is_not_utf8_is_refused(items, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"user_id,item_id\n" + "ü1,a\n".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_events", str(path), "--no-progress")
    assert not Event.objects.exists()


def test_progress_bar_and_a_bom(items, tmp_path, capsys):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfuser_id,item_id\nu1,a\n")
    call_command("import_events", str(path), "--skip-bad")  # progress on: tqdm only draws on a terminal
    assert "1 stored" in capsys.readouterr().out
