"""The lesson page ahead of the router.

Serving a lesson is the product's hot path: a learner reads one after another, a room of
them at once on a slow link. Routing, FastAPI's dependency resolution and the middlewares
inside this one cost more per request than the page's own work (profiled with py-spy in
`bench/profile.py`: they were over half of its time), and none of them changes this page.
So the outermost middleware hands a plain signed-in GET of an item page straight to the
route's own code (`html_learning.lesson_fast_path`), and anything else (a query string, no
session cookie, ids outside the usual characters, an error of any kind) goes the normal
way, which answers it exactly as before. Both ways give the same page:
tests/web/test_fast_path.py compares them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ecampus.web.sessions import SESSION_COOKIE, with_renewed_cookie

# Course and item ids as authors write them (the course schema allows no more); a path
# with anything else (a NUL, a lone surrogate, an encoded slash) is checked the normal way.
_ITEM_PAGE = re.compile(r"/courses/([A-Za-z0-9_.-]{1,80})/items/([A-Za-z0-9_.-]{1,80})")
_COOKIE = SESSION_COOKIE.encode() + b"="

Handler = Callable[[Request, str, str], Awaitable[Response | None]]


class LessonFastPath:
    def __init__(self, app: ASGIApp, handler: Handler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope.get("query_string")
            and (match := _ITEM_PAGE.fullmatch(scope["path"]))
            and _has_session_cookie(scope)
        ):
            state = scope.get("state")
            saved = dict(state) if state is not None else None
            response = await self.handler(Request(scope), match[1], match[2])
            if response is not None:
                await response(scope, receive, with_renewed_cookie(scope, send))
                return
            # Whatever the attempt left in the request's state is forgotten.
            if saved is None:
                scope.pop("state", None)
            else:
                scope["state"] = saved
        await self.app(scope, receive, send)


def _has_session_cookie(scope: Scope) -> bool:
    return any(name == b"cookie" and _COOKIE in value for name, value in scope["headers"])
