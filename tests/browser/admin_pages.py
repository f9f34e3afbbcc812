"""Helpers for the admin's browser tests: the merchandiser's login, screenshots for the guide, API polling."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import quote

from django.contrib.auth.models import User

from curation.services import merchandiser_group_ensure
from recsys.clients.services import api_client_create
from recsys.models import Item

ROOT = Path(__file__).resolve().parents[2]
GUIDE_IMAGES = ROOT / "docs" / "img"
MERCH_USER, MERCH_PASSWORD = "merch", "merch-pass-123"


def merchandiser() -> User:
    user = User.objects.create_user(MERCH_USER, password=MERCH_PASSWORD, is_staff=True)
    user.groups.add(merchandiser_group_ensure())  # a transactional test before may have flushed the migration's
    return user


COLOURS = {"books": "#8e5a2b", "games": "#2b6f8e", "garden": "#3d8e2b"}


def picture_items() -> None:
    """Give the test shop's items small inline pictures (the shop's own image host is not reachable here),
    so the cards and pickers in the guide's screenshots show thumbnails."""
    for category, colour in COLOURS.items():
        svg = ("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'>"
               f"<rect width='64' height='64' rx='8' fill='{colour.replace('#', '%23')}'/>"
               "<circle cx='32' cy='26' r='12' fill='white' fill-opacity='.8'/>"
               "<rect x='14' y='44' width='36' height='8' rx='4' fill='white' fill-opacity='.6'/></svg>")
        Item.objects.filter(category=category).update(image_url=svg)


def read_headers() -> dict[str, str]:
    _, key = api_client_create(name="storefront", scope="read")
    return {"Authorization": f"Token {key}"}


def write_headers() -> dict[str, str]:
    _, key = api_client_create(name="integration", scope="write")
    return {"Authorization": f"Token {key}"}


def log_in(page, base: str, next_path: str) -> None:
    page.goto(f"{base}/admin/login/?next={quote(next_path)}")
    page.fill("#id_username", MERCH_USER)
    page.fill("#id_password", MERCH_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(".*" + re.escape(next_path.split("?")[0]) + ".*"))


def screenshot(page, name: str, artifacts_dir: Path, *, selector: str | None = None) -> Path:
    """A screenshot for the merchandiser's guide: into docs/img/ when CURIO_SCREENSHOTS=1 (committed),
    else into test-artifacts/. Viewport-sized or one element, never the whole page, to keep them small."""
    folder = GUIDE_IMAGES if os.environ.get("CURIO_SCREENSHOTS") == "1" else artifacts_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    if selector:
        page.locator(selector).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path))
    return path


def served_items(page, url: str, headers: dict, *, until=None, attempts: int = 40) -> list[dict]:
    """The API's items, asked again (every 0.1 s, at most `attempts` times) until `until(items)` holds:
    rule changes reach the server's rule cache within its check interval, not at once."""
    items: list[dict] = []
    for _ in range(attempts):
        response = page.request.get(url, headers=headers)
        assert response.ok, response.text()
        items = response.json()["items"]
        if until is None or until(items):
            break
        time.sleep(0.1)
    return items
