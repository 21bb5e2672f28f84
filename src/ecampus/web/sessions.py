"""The browser's session cookie: issued at sign-in, renewed while the person is active.

A token lives `ECAMPUS_TOKEN_MINUTES`. Once half of that has passed, the next request that
is signed in by the cookie gets a fresh token for the same session, so an active learner
stays signed in, up to the session's absolute end (`ECAMPUS_SESSION_HOURS` after sign-in),
while a browser left alone is signed out when its token runs out.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecampus.accounts import sessions, tokens
from ecampus.accounts.models import User
from ecampus.accounts.sessions import Account
from ecampus.settings import Settings

SESSION_COOKIE = "ecampus_session"
_RENEWED = "renewed_session"  # request.state key: (token, lifetime) to send back
# The course and lesson pages check the session inside their own query.
_OWN_CHECK = re.compile(r"/courses/[^/]+(?:/items/[^/]+)?")


def issue(db: Session, settings: Settings, user: User) -> tuple[str, int]:
    """Start a session for a person who just signed in: its first token and lifetime."""
    started = sessions.start(db, user=user, hours=settings.session_hours)
    return tokens.create_access_token(
        secret=settings.secret_key,
        issuer=settings.base_url,
        user_id=user.id or 0,
        session_id=started.id,
        language=user.language,
        minutes=settings.token_minutes,
        not_after=started.expires_at,
    )


def set_cookie(response: Response, settings: Settings, token: str, lifetime: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=lifetime,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, secure=settings.cookie_secure, samesite="lax"
    )


def renew_if_due(request: Request, claims: tokens.Claims, account: Account) -> None:
    """Past half its life, a cookie's token is replaced on the way out (same session)."""
    settings: Settings = request.app.state.settings
    now = time.time()
    if now - claims.issued_at < settings.token_minutes * 30:
        return
    if account.session_ends_at.timestamp() <= claims.expires_at:
        return  # the session ends no later than this token: nothing to extend
    token, lifetime = tokens.create_access_token(
        secret=settings.secret_key,
        issuer=settings.base_url,
        user_id=account.user_id,
        session_id=claims.session_id,
        language=account.language,
        minutes=settings.token_minutes,
        not_after=account.session_ends_at,
    )
    setattr(request.state, _RENEWED, (token, lifetime))


def _sets_session_cookie(headers: list[tuple[bytes, bytes]]) -> bool:
    prefix = f"{SESSION_COOKIE}=".encode()
    return any(k.lower() == b"set-cookie" and v.startswith(prefix) for k, v in headers)


class SessionMiddleware:
    """Two jobs around each request.

    For pages, the caller is found before the route runs (`resolve`, which queries in a
    worker thread): a page route holding its own database connection then never waits for a
    second one to learn who is calling, a wait that under load could drain the pool. The
    course and lesson pages are left out: they check the session inside their own query.
    API routes find the caller in their dependencies, before their bodies run.

    On the way out, it adds the renewed cookie, unless the route set the cookie itself
    (sign-in, sign-out, a password change).
    """

    def __init__(self, app: ASGIApp, resolve: Callable[[Request], Awaitable[object]]) -> None:
        self.app = app
        self.resolve = resolve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.startswith(("/api/", "/static/")) and not (
            scope["method"] == "GET" and _OWN_CHECK.fullmatch(path)
        ):
            # On a failure the caller is left unresolved and looked up again inside the app,
            # whose error handlers answer it (503 for a database that is busy or gone).
            with contextlib.suppress(Exception):
                await self.resolve(Request(scope))

        await self.app(scope, receive, with_renewed_cookie(scope, send))


def with_renewed_cookie(scope: Scope, send: Send) -> Send:
    """`send`, adding the renewed session cookie to the response's headers when the
    request renewed it, unless the route set the cookie itself."""

    async def send_with_cookie(message: Message) -> None:
        if message["type"] == "http.response.start":
            renewed = scope.get("state", {}).get(_RENEWED)
            headers = list(message.get("headers", []))
            if renewed and not _sets_session_cookie(headers):
                carrier = Response()
                set_cookie(carrier, scope["app"].state.settings, *renewed)
                headers.extend((k, v) for k, v in carrier.raw_headers if k.lower() == b"set-cookie")
                message = {**message, "headers": headers}
        await send(message)

    return send_with_cookie
