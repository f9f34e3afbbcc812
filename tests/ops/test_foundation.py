import pytest
from django.core.management import call_command

from recsys.models import ApiClient


def test_healthz_needs_no_db_or_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_components(client):
    body = client.get("/readyz").json()
    assert body["components"]["db"]["status"] == "ok"
    assert body["components"]["redis"]["status"] == "disabled"
    assert body["components"]["model"]["status"] == "none"


@pytest.mark.django_db
def test_create_api_client_prints_token_last_and_stores_hash(capsys):
    call_command("create_api_client", "shopfront", "--write")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    client = ApiClient.objects.get(name="shopfront")
    assert client.scope == "write"
    assert client.key_hash == ApiClient.hash_key(token)
    assert token not in client.key_hash


def test_schema_and_docs_served_without_token(client, db):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content.lower()
    assert b"cdn.jsdelivr" not in docs.content


@pytest.mark.django_db
def test_readyz_reports_the_model_this_process_serves(client, tmp_path, settings):
    from tests.factories import stored_version
    from tests.serving_world import reset_serving_caches

    settings.MODEL_DIR = tmp_path
    stored_version(tmp_path, 3, ["u1"], ["a", "b"], active=True)
    reset_serving_caches()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["components"]["model"] == {"status": "ok", "version": 3, "kind": "als"}

    (tmp_path / "3" / "item_factors.npy").write_bytes(b"not a numpy file")  # corrupt: popular lists serve
    reset_serving_caches()
    response = client.get("/readyz")
    model = response.json()["components"]["model"]
    assert response.status_code == 200 and model["status"] == "degraded" and model["version"] == 3
    reset_serving_caches()
