"""The app's routers, in the order their routes are matched, and how `create_app` includes them.

`FIRST` are imported with the app: the pages a start is followed by (lesson pages, the hot
path, and the course pages), the JSON course API, sign-in and registration. Importing the
others means analysing some 75 more routes' signatures with FastAPI, and the domain
modules only they use: about a fifth of a start's CPU. `ecampus serve` defers them
(`include(..., defer=True)`): the app answers as soon as the first routers are in, and the
others are imported on the event loop after the start, one module at a time once no request
has been in progress for a moment (QUIET_SECONDS), then included all at once at their place
in the routing order.

Nobody can tell (tests/web/test_start_up.py): until they are in, a request is let through
only when the routers already in would route it (a full match in the routes ahead of the
missing ones, so the final app routes it the same way); any other request, a 404 and the
OpenAPI document included, waits for them, and makes the loading go on at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Callable, Iterator
from types import ModuleType

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Routes are matched in this order: the lesson pages, the hot path, come first.
FIRST = ("html_learning", "api_courses", "api_auth")
LATER = (
    "api_accounts",
    "api_me",
    "api_reports",
    "api_certificate_reports",
    "api_corrections",
    "api_onboarding",
    "api_audit",
    "certificates",
    "credentials",
    "html_account",
    "html_recovery",
    "html_certificates",
    "html_coordination",
    "html_corrections",
    "html_onboarding",
    "html_audit",
    "html_people",
    "html_programmes",
    "html_outbox",
    "authoring",
    "media",
)
API_DOCS = "api_docs"  # last, when ECAMPUS_API_DOCS is on
# Loading waits for this long with no request in progress (a request waiting for it does
# not wait): the requests that follow a start closely (sign-in, enrolment, the first
# pages) are not held up behind an import each.
QUIET_SECONDS = 0.05


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def later_modules(api_docs: bool) -> tuple[str, ...]:
    return LATER + ((API_DOCS,) if api_docs else ())


def include(app: FastAPI, *, api_docs: bool, defer: bool = False) -> LaterRouters | None:
    """Include every router in order; with `defer`, only FIRST now and the others once the
    app has started (see LaterRouters), placed where they would have been."""
    for name in FIRST:
        app.include_router(module(name).router)
    if not defer:
        for name in later_modules(api_docs):
            app.include_router(module(name).router)
        return None
    later = LaterRouters(app, later_modules(api_docs))
    app.add_middleware(_Gate, routers=later)  # outermost: it sees every request
    app.state.later_routers = later
    return later


class LaterRouters:
    """The routers `include(defer=True)` left out: imported on the event loop after the
    start, a module at a time once no request has been in progress for QUIET_SECONDS (at
    once if one waits for them), then included together at the place they were left out
    of."""

    def __init__(self, app: FastAPI, names: tuple[str, ...]) -> None:
        self.app = app
        self.names = names
        self.position = len(app.router.routes)  # where they go: before the routes added after
        self.ready = False
        self.on_ready: list[Callable[[], object]] = []  # called once they are in
        self.seconds = 0.0  # CPU time spent importing and including them
        self._done: asyncio.Event | None = None
        self._may_go_on: asyncio.Event | None = None
        self._in_progress = 0  # requests being served meanwhile
        self._quiet_since = 0.0  # the loop's time when the last of them ended
        self._waiting = 0  # requests waiting for these routers
        self._task: asyncio.Task[None] | None = None

    # The routes ahead of the missing ones: a full match among them is the final app's too.
    def _ahead(self) -> list[BaseRoute]:
        return self.app.router.routes[: self.position]

    def routed_now(self, scope: Scope) -> bool:
        # Matching writes into the scope (and a dict in it): the request's stays as it was.
        probe = {key: dict(value) if isinstance(value, dict) else value
                 for key, value in scope.items()}  # fmt: skip
        # The first full match wins, wherever a partial one (a 405) was; none, or only a
        # partial one, may be a later router's to answer. The OpenAPI document lists every
        # route: it waits for them all.
        for route in self._ahead():
            if route.matches(probe)[0] is Match.FULL:
                return getattr(route, "path", None) != self.app.openapi_url
        return False

    def start(self) -> None:
        if self.ready or self._task is not None:
            return
        self._done = asyncio.Event()
        self._may_go_on = asyncio.Event()
        self._may_go_on.set()
        loop = asyncio.get_running_loop()
        self._quiet_since = loop.time()  # the first requests come right after the start
        self._task = loop.create_task(self._load())

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _load(self) -> None:
        assert self._may_go_on is not None
        assert self._done is not None
        try:
            spent = 0.0
            for name in self.names:
                await self._quiet()
                began = time.process_time()
                module(name)
                spent += time.process_time() - began
                await asyncio.sleep(0)  # a request that came meanwhile goes first
            began = time.process_time()
            self._include()
            self.seconds = spent + time.process_time() - began
        except Exception:  # every request that needs them answers 500 (and is logged)
            log.exception("importing the routers failed")
        finally:
            self._done.set()
        log.debug("routers in after %.3f s of CPU", self.seconds)

    async def _quiet(self) -> None:
        """Until no request has been in progress for QUIET_SECONDS, or one waits for us."""
        assert self._may_go_on is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._may_go_on.wait()
            if self._waiting:
                return
            left = self._quiet_since + QUIET_SECONDS - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(left)

    def _include(self) -> None:
        routes = self.app.router.routes
        before = len(routes)
        for name in self.names:
            self.app.include_router(module(name).router)
        added = routes[before:]
        del routes[before:]
        routes[self.position : self.position] = added
        self.ready = True
        self._unhook()
        for call in self.on_ready:
            call()

    def _unhook(self) -> None:
        """Take the gate out of the middleware stack: from now on it would only pass on."""
        layer: object = self.app.middleware_stack
        for _depth in range(16):
            inner = getattr(layer, "app", None)
            if isinstance(inner, _Gate) and inner.routers is self:
                layer.app = inner.app  # type: ignore[attr-defined]
                return
            layer = inner

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """A request served while the routers load: loading pauses until none is (and then
        some)."""
        assert self._may_go_on is not None
        self._in_progress += 1
        self._update()
        try:
            yield
        finally:
            self._in_progress -= 1
            self._quiet_since = asyncio.get_running_loop().time()
            self._update()

    async def wait(self) -> None:
        """Until every router is in (and the loading does not pause meanwhile)."""
        assert self._done is not None
        assert self._may_go_on is not None
        self._waiting += 1
        self._update()
        try:
            await self._done.wait()
        finally:
            self._waiting -= 1
            self._update()
        if not self.ready:
            raise RuntimeError("the routers could not be imported")

    def _update(self) -> None:
        """Loading goes on while no request is served, or while one waits for it."""
        if self._may_go_on is None:
            return
        if self._waiting or not self._in_progress:
            self._may_go_on.set()
        else:
            self._may_go_on.clear()


class _Gate:
    """Outermost middleware of a deferred app: starts the loading once the app has started,
    and holds each request that needs what is not in yet; out of the way once it is in."""

    def __init__(self, app: ASGIApp, routers: LaterRouters) -> None:
        self.app = app
        self.routers = routers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routers = self.routers
        if routers.ready or scope["type"] not in ("http", "websocket"):
            if scope["type"] == "lifespan" and not routers.ready:
                await self.app(scope, receive, self._on_lifespan(send))
                return
            await self.app(scope, receive, send)
            return
        if routers._done is None:  # no lifespan (an ASGI server told not to run it)
            routers.start()
        if routers.routed_now(scope):
            with routers.serving():
                await self.app(scope, receive, send)
            return
        await routers.wait()
        await self.app(scope, receive, send)

    def _on_lifespan(self, send: Send) -> Send:
        async def sent(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.routers.start()
            elif message["type"].startswith("lifespan.shutdown"):
                await self.routers.stop()
            await send(message)

        return sent
