"""Every browser request runs in the reader's language, from its first line."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ecampus.web.pages import page_language
from ecampus.web.templating import current_language


class LanguageMiddleware:
    """Set the interface language before the route runs, so messages a route builds (form
    errors, notices) are translated, not only the template. The JSON API stays English."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(("/api/", "/static/")):
            request = Request(scope)
            language = page_language(request)
            request.state.language = language  # the page context reuses it
            current_language.set(language)
        await self.app(scope, receive, send)
