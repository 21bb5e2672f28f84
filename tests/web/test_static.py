"""Static assets: content-hashed names cached for a year, gzipped once, never a CDN."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_pages_link_hashed_assets_cached_for_a_year(client: TestClient) -> None:
    page = client.get("/").text
    css = re.search(r'href="(/static/css/app\.[0-9a-f]{10}\.css)"', page)
    js = re.search(r'src="(/static/vendor/htmx\.min\.[0-9a-f]{10}\.js)"', page)
    assert css
    assert js
    assert "://" not in "".join(re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page))  # no CDN
    response = client.get(css.group(1), headers={"accept-encoding": "gzip"})
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("text/css")
    again = client.get(css.group(1), headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304
    plain = client.get("/static/css/app.css")
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == "public, max-age=3600"
    assert client.get("/static/nope.css").status_code == 404
    htmx = client.get(js.group(1)).text
    assert 'version:"2.0.' in htmx  # htmx 2.0.x, vendored


def test_pages_carry_security_headers(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
