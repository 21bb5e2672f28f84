"""The rendered-page cache of web/templating.py stays within its character budget, so a
worker's memory is bounded however heavy the cached pages are (issue 12: under 150 MB)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request

from ecampus.web import templating
from ecampus.web.assets import StaticAssets
from ecampus.web.templating import Templates

ROOT = Path(__file__).resolve().parent.parent.parent


def request() -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    )


def test_the_page_cache_is_emptied_past_its_character_budget() -> None:
    templates = Templates(ROOT / "templates", StaticAssets(ROOT / "static"))
    page_chars = templating.PAGE_CACHE_CHARS // 10 + 1
    renders: list[str] = []

    def render(_request: Any, name: str, _context: Any, _block: Any) -> str:
        renders.append(name)
        return "é" * page_chars + templating._CSRF_SLOT

    templates._html = render  # type: ignore[method-assign]
    context = {"lang": "es", "csrf_token": "token"}
    for n in range(30):
        response = templates.render(request(), f"page-{n}", context, cache_key=(n,))
        assert response.body.endswith(b"token")
        held = sum(len(page) for page in templates._pages.values())
        assert held <= templating.PAGE_CACHE_CHARS + page_chars + len(templating._CSRF_SLOT)
    assert len(templates._pages) < 30  # emptied on the way
    # A page still in the cache is served from it, not rendered again.
    last = len(renders)
    templates.render(request(), "page-29", context, cache_key=(29,))
    assert len(renders) == last
