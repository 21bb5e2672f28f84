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

The other hot reads go the same way (`routes`, wired in app.py): the course page and the
catalogue for a signed-in browser, and the JSON item for a caller with a token
(tests/web/test_fast_reads.py compares both ways for each).

So do the hot writes (`writes`): a quiz attempt and a lesson done, POSTed to the API with a
token or the session cookie, or from their page's form. FastAPI's dependency resolution,
routing and body handling cost them three times their own work (bench/inprocess.py: 2.6 ms
of CPU through the app against 0.63 ms for the unit of work and its answer). Their body is
read first (at most `WRITE_BODY_MAX` bytes, declared by Content-Length) and handed on again,
unchanged, to the normal way when the handler declines; a handler declines only before it
writes anything, and answers every error of the write itself through the app's own
exception handlers (tests/web/test_fast_writes.py compares both ways).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecampus.web.sessions import SESSION_COOKIE, with_renewed_cookie

# Course and item ids as authors write them (the course schema allows no more); a path
# with anything else (a NUL, a lone surrogate, an encoded slash) is checked the normal way.
_ID = r"([A-Za-z0-9_.-]{1,80})"
_ITEM_PAGE = re.compile(rf"/courses/{_ID}/items/{_ID}")
# The other hot reads' paths, for app.py to pair with their handlers.
CATALOGUE = re.compile(r"/")
COURSE_PAGE = re.compile(rf"/courses/{_ID}")
API_ITEM = re.compile(rf"/api/v1/courses/{_ID}/items/{_ID}")
API_ATTEMPT = re.compile(rf"/api/v1/courses/{_ID}/items/{_ID}/attempts")
API_COMPLETE = re.compile(rf"/api/v1/courses/{_ID}/items/{_ID}/complete")
PAGE_ATTEMPT = re.compile(rf"/courses/{_ID}/items/{_ID}/attempts")
PAGE_COMPLETE = re.compile(rf"/courses/{_ID}/items/{_ID}/complete")
# A hot write's body is a few answers: anything longer, or of no declared length, goes the
# normal way (whose body limit answers it).
WRITE_BODY_MAX = 64 * 1024
_COOKIE = SESSION_COOKIE.encode() + b"="

Handler = Callable[[Request, str, str], Awaitable[Response | None]]
# Other hot reads, served the same way: a pattern of the path (ids as above) and the code
# that answers it, given the pattern's groups (the course page, the signed-in catalogue,
# the JSON item). Their handlers too answer None for anything they do not serve as is.
RouteHandler = Callable[..., Awaitable[Response | None]]
FastRoute = tuple[re.Pattern[str], RouteHandler]


class LessonFastPath:
    def __init__(
        self,
        app: ASGIApp,
        handler: Handler,
        routes: Sequence[FastRoute] = (),
        writes: Sequence[FastRoute] = (),
    ) -> None:
        self.app = app
        self.handler = handler
        self.routes = tuple(routes)
        self.writes = tuple(writes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope.get("query_string")
            and _has_credentials(scope)
        ):
            path = scope["path"]
            if (match := _ITEM_PAGE.fullmatch(path)) and _has_session_cookie(scope):
                if await self._answer(scope, receive, send, self.handler, match):
                    return
            else:
                for pattern, handler in self.routes:
                    if found := pattern.fullmatch(path):
                        if await self._answer(scope, receive, send, handler, found):
                            return
                        break
        elif (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("query_string")
            and _has_credentials(scope)
        ):
            for pattern, handler in self.writes:
                if found := pattern.fullmatch(scope["path"]):
                    body = await _small_body(scope, receive)
                    if body is None:
                        break
                    if await self._answer(scope, _replay(body, receive), send, handler, found):
                        return
                    receive = _replay(body, receive)  # the normal way reads it again
                    break
        await self.app(scope, receive, send)

    @staticmethod
    async def _answer(
        scope: Scope, receive: Receive, send: Send, handler: RouteHandler, match: re.Match[str]
    ) -> bool:
        state = scope.get("state")
        saved = dict(state) if state is not None else None
        response = await handler(Request(scope, receive), *match.groups())
        if response is not None:
            await response(scope, receive, with_renewed_cookie(scope, send))
            return True
        # Whatever the attempt left in the request's state is forgotten.
        if saved is None:
            scope.pop("state", None)
        else:
            scope["state"] = saved
        return False


async def _small_body(scope: Scope, receive: Receive) -> list[Message] | None:
    """The request body's messages, for a body of declared length up to WRITE_BODY_MAX (or
    the app's lower limit); None, reading nothing, for any other (the normal way answers
    it)."""
    declared = [v for name, v in scope["headers"] if name == b"content-length"]
    if len(declared) > 1 or (declared and not declared[0].isdigit()):
        return None
    length = int(declared[0]) if declared else 0
    if length > _body_limit(scope) or (not declared and _has_header(scope, b"transfer-encoding")):
        return None
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages  # a disconnect: the normal way sees it too
        size += len(message.get("body", b""))
        if not message.get("more_body", False) or size > length:
            return messages


def _body_limit(scope: Scope) -> int:
    """WRITE_BODY_MAX, or the app's own body limit if lower (its 413 is the normal way's)."""
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    limit = getattr(settings, "max_body_bytes", None)
    return min(WRITE_BODY_MAX, limit) if isinstance(limit, int) else WRITE_BODY_MAX


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive`, giving the messages already read first."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def handled(request: Request, exc: Exception) -> Response:
    """The response the app's own exception handlers give for `exc` (as its exception
    middleware finds them, by the exception's classes in order), for a fast path that must
    answer an error itself; an unexpected one is logged and answered 500 by the app's
    handler for Exception."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            answer = handlers[cls](request, exc)
            return await answer if inspect.isawaitable(answer) else answer
    raise exc


def _has_header(scope: Scope, name: bytes) -> bool:
    return any(key == name for key, _value in scope["headers"])


def _has_session_cookie(scope: Scope) -> bool:
    return any(name == b"cookie" and _COOKIE in value for name, value in scope["headers"])


def _has_credentials(scope: Scope) -> bool:
    """A session cookie or an Authorization header (the API's bearer token)."""
    return any(
        (name == b"cookie" and _COOKIE in value) or name == b"authorization"
        for name, value in scope["headers"]
    )
