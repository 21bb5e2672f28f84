"""Request bodies are capped before anything parses them.

A declared Content-Length over the limit is refused at once, before the route runs (so no
work is done for a request that will be refused). A body sent without a length (chunked) is
counted as it arrives, and reading stops with a 413 as soon as it passes the limit, so a
200 MB body costs at most the limit in memory.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecampus.web import pages
from ecampus.web.templating import gettext as _


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, *, api: bool) -> None:
        # Closing the connection spares the server the rest of the body.
        super().__init__(413, too_large_message(limit, api=api), {"connection": "close"})


def too_large_message(limit: int, *, api: bool) -> str:
    """In the reader's language on pages; the JSON API speaks English."""
    megabytes = limit / 1_000_000
    size = f"{megabytes:g} MB" if megabytes >= 1 else f"{limit / 1000:g} kB"
    if api:
        return f"Request body too large: at most {size}"
    return _("The request is too large: at most %(size)s.", size=size)


def is_upload_path(path: str) -> bool:
    """Imports (spreadsheets of learners) may be larger than any other request."""
    return path.rstrip("/").endswith("/import")


class BodyLimitMiddleware:
    """Pure ASGI: `max_bytes` for every request, `max_upload_bytes` for import paths."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if is_upload_path(scope["path"]) else self.max_bytes
        api = scope["path"].startswith("/api/")
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refusal(scope, limit)(scope, receive, send)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException: FastAPI lets it through its body parsing, and the
                    # app's handlers answer it as JSON or as a page in the reader's language.
                    raise BodyTooLarge(limit, api=api)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _refusal(scope, limit)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


def _refusal(scope: Scope, limit: int) -> Response:
    api = scope["path"].startswith("/api/")
    message = too_large_message(limit, api=api)
    headers = {"connection": "close"}
    if api:
        return JSONResponse({"detail": message}, status_code=413, headers=headers)
    response = pages.error_page(Request(scope), 413, message)
    response.headers.update(headers)
    return response
