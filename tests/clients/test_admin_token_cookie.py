"""A token created in the admin is shown once on the page, from the server-side session (MESSAGE_STORAGE is
SessionStorage): it never travels in a cookie (the default `messages` cookie is signed, not encrypted)."""
import re

import pytest
from django.contrib.messages.storage.cookie import CookieStorage

from recsys.models import ApiClient

pytestmark = pytest.mark.django_db


def set_cookies(response) -> dict[str, str]:
    return {name: morsel.value for name, morsel in response.cookies.items()}


def test_a_new_token_is_shown_once_and_never_set_in_a_cookie(admin_client):
    created = admin_client.post("/admin/recsys/apiclient/add/", {"name": "shop-frontend", "scope": "read"})
    assert created.status_code == 302
    shown = admin_client.get(created["Location"])
    match = re.search(r"store it now\): (\S+)</li>", shown.content.decode())
    assert match, "the token is shown on the next page"
    token = match.group(1)
    assert ApiClient.objects.get(name="shop-frontend").key_prefix == token[:8]

    for response in (created, shown):
        cookies = set_cookies(response)
        assert CookieStorage.cookie_name not in cookies, "messages are kept in the session, not a cookie"
        assert not [name for name, value in cookies.items() if token in value or token[8:] in value]

    again = admin_client.get(created["Location"])
    assert token not in again.content.decode(), "shown once"
