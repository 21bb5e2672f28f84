"""The site's icon: an SVG for current browsers, an ICO for the rest, a PNG for home screens."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from PIL import Image


def test_pages_name_their_icons_under_hashed_names(client: TestClient) -> None:
    page = client.get("/").text
    svg = re.search(
        r'<link rel="icon" href="(/static/favicon\.[0-9a-f]{10}\.svg)" type="image/svg\+xml">', page
    )
    ico = re.search(
        r'<link rel="icon" href="(/static/favicon\.[0-9a-f]{10}\.ico)" sizes="32x32">', page
    )
    assert svg
    assert ico
    touch_url = re.search(
        r'<link rel="apple-touch-icon" href="(/static/apple-touch-icon\.[0-9a-f]{10}\.png)">', page
    )
    assert touch_url

    response = client.get(svg.group(1), headers={"accept-encoding": "gzip"})
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.text.startswith("<svg")
    assert "<script" not in response.text

    icon = Image.open(io.BytesIO(client.get(ico.group(1)).content))
    assert icon.format == "ICO"
    assert {(16, 16), (32, 32)} <= icon.info["sizes"]

    touch = Image.open(io.BytesIO(client.get(touch_url.group(1)).content))
    assert (touch.format, touch.size, touch.mode) == ("PNG", (180, 180), "RGB")  # opaque


def test_the_icon_answers_at_the_root_too(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert Image.open(io.BytesIO(response.content)).format == "ICO"
