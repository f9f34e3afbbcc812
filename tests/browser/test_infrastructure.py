"""The browser fixtures themselves: a server in another process on the test DB, driven by Chromium."""
from recsys.models import Item


def test_server_in_another_process_sees_the_test_database(live_server_url, page, artifacts_dir):
    Item.objects.create(item_id="browser-1", title="Seen across processes")
    # The admin login page is a real HTML page served by the other process.
    page.goto(f"{live_server_url}/admin/login/")
    assert "Log in" in page.title()
    response = page.request.get(f"{live_server_url}/healthz")
    assert response.ok and response.json() == {"status": "ok"}
    # An API read by a token created here proves both processes share the database.
    from recsys.clients.services import api_client_create

    _, key = api_client_create(name="browser-reader", scope="read")
    response = page.request.get(f"{live_server_url}/api/v1/items/browser-1/", headers={"Authorization": f"Token {key}"})
    assert response.status == 200, response.text()
    assert response.json()["title"] == "Seen across processes"
    shot = artifacts_dir / "infrastructure-admin-login.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 1000
