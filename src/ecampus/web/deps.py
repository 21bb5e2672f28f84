"""Request dependencies, declared once as Annotated aliases."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlmodel import Session

from ecampus.accounts import service as accounts_service
from ecampus.accounts import sessions, tokens
from ecampus.accounts.models import User
from ecampus.accounts.sessions import Account
from ecampus.accounts.tokens import Claims, Principal
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent
from ecampus.db import ConnectionGate
from ecampus.dbfast import LoopReader, ReaderBusy
from ecampus.learning import service as learning
from ecampus.settings import Settings
from ecampus.web import sessions as session_cookie
from ecampus.web.reqstate import state_dict, state_has, state_value
from ecampus.web.sessions import SESSION_COOKIE
from ecampus.web.templating import Templates

CSRF_COOKIE = "ecampus_csrf"
LANG_COOKIE = "ecampus_lang"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
T = TypeVar("T")


class LoginRequired(Exception):
    """Raised for browser pages that need a login: the handler redirects to /login."""


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_gate(request: Request) -> ConnectionGate:
    return request.app.state.db_gate


# A streamed body's chunks are made in worker threads a batch at a time: up to this many
# bytes, or what is made in this long (so a slow producer, the certificates' PDFs, still
# sends as it goes). One hand-over per 64 KB chunk had cost the 9.9 MB programme report
# 159 thread hops.
STREAM_BATCH_BYTES = 1 << 20
STREAM_BATCH_SECONDS = 0.05


async def gated_stream(
    gate: ConnectionGate, chunks: Callable[[], Iterator[bytes]]
) -> AsyncIterator[bytes]:
    """A streamed body that reads the database: admitted through the gate like a request,
    its chunks made in worker threads (the database calls never run on the event loop),
    several at a time. A body not sent to its end (the client went away) has its chunks'
    iterator closed in a worker thread, which ends its database session."""
    async with gate.slot():
        iterator = chunks()
        finished = False
        try:
            while batch := await run_in_threadpool(_next_batch, iterator):
                for chunk in batch:
                    yield chunk
            finished = True
        finally:
            if not finished:
                with anyio.CancelScope(shield=True):
                    await run_in_threadpool(_close_quietly, iterator)


def _next_batch(iterator: Iterator[bytes]) -> list[bytes]:
    batch: list[bytes] = []
    size = 0
    started = time.monotonic()
    for chunk in iterator:
        batch.append(chunk)
        size += len(chunk)
        if size >= STREAM_BATCH_BYTES or time.monotonic() - started >= STREAM_BATCH_SECONDS:
            break
    return batch


def _close_quietly(iterator: Iterator[bytes]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()


async def get_catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue


async def get_templates(request: Request) -> Templates:
    return request.app.state.templates


async def get_session(
    request: Request, _caller: Annotated[Principal | None, Depends(optional_principal)]
) -> AsyncIterator[Session]:
    """A database session for one route call, admitted through the connection gate.

    The caller's session check runs first (its own short turn at the gate), so a request
    never waits for a second slot while holding one.

    Waiting for a slot happens on the event loop, so no worker thread ever blocks on the
    pool, and the session is closed when the route function returns (scope="function"),
    before the response is sent: a slow client never holds a connection. Closing runs in a
    thread of its own limiter, as FastAPI does for dependency exits, never queued behind
    requests that wait for the default thread pool."""
    state = request.app.state
    async with state.db_gate.slot():
        session = Session(state.engine, expire_on_commit=False)
        try:
            yield session
        finally:
            await anyio.to_thread.run_sync(session.close, limiter=state.db_closer)


async def in_session(request: Request, work: Callable[[Session], T]) -> T:
    """`work(session)` in a worker thread with a session of its own, admitted through the
    connection gate, for async routes that touch the database between slow steps."""
    state = request.app.state

    def run() -> T:
        with Session(state.engine, expire_on_commit=False) as session:
            return work(session)

    async with state.db_gate.slot():
        return await run_in_threadpool(run)


async def check_password(request: Request, user: User | None, password: str) -> bool:
    """The argon2 check, in a worker thread but holding no database connection or slot:
    at most `password_gate.capacity` at once (each takes a core and 64 MB for ~50 ms), the
    others waiting on the event loop, or a 503 past the queue's time limit."""
    async with request.app.state.password_gate.slot():
        return await run_in_threadpool(accounts_service.password_matches, user, password)


def bearer_token(request: Request) -> tuple[str | None, bool]:
    """The token and whether it came from the cookie (which needs CSRF protection)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def token_claims(request: Request) -> Claims | None:
    """What the caller's token says, if it is ours and unexpired (no database; cached)."""
    state = state_dict(request)
    if "claims" in state:
        return state["claims"]
    token, from_cookie = bearer_token(request)
    settings: Settings = request.app.state.settings
    claims = (
        tokens.decode_access_token(token, secret=settings.secret_key, issuer=settings.base_url)
        if token
        else None
    )
    state["claims"] = claims
    state["claims_from_cookie"] = from_cookie
    return claims


def accept_session(request: Request, claims: Claims, account: Account | None) -> Principal | None:
    """The caller, once their session was found live (or None); renews the cookie when due.
    Routes that fold the session check into their own query call this with its result."""
    principal = (
        None
        if account is None
        else Principal(
            user_id=account.user_id,
            role=account.role,
            name=account.name,
            language=account.language,
            email=account.email,
            token_id=claims.session_id,
            expires_at=claims.expires_at,
        )
    )
    request.state.principal = principal
    if account is not None and state_value(request, "claims_from_cookie", False):
        session_cookie.renew_if_due(request, claims, account)
    return principal


def principal_of(request: Request) -> Principal | None:
    """The caller, from the bearer header or the login cookie, whose session is live: role
    and name come from the account as stored now (one indexed query, cached per request).
    It blocks: async code awaits resolve_principal instead."""
    if state_has(request, "principal"):
        return state_value(request, "principal")
    claims = token_claims(request)
    if claims is None:
        request.state.principal = None
        return None
    engine: Engine = request.app.state.engine
    # On the pool's driver connection, in autocommit (ecampus.dbfast): no BEGIN and ROLLBACK
    # round trips, nor SQLAlchemy's per-statement work, which costs more than the query.
    account = sessions.lookup(engine, user_id=claims.user_id, session_id=claims.session_id)
    return accept_session(request, claims, account)


async def resolve_principal(request: Request) -> Principal | None:
    """principal_of, with its query on the event loop's own reader (ecampus.dbfast
    LoopReader: no worker thread, which costs more than the query), or in a worker thread
    when that reader cannot serve (never blocking the event loop)."""
    if state_has(request, "principal"):
        return state_value(request, "principal")
    claims = token_claims(request)
    if claims is None:
        request.state.principal = None
        return None
    reader: LoopReader | None = getattr(request.app.state, "loop_reader", None)
    if reader is not None and reader.available:
        try:
            account = await sessions.lookup_on_loop(
                reader, user_id=claims.user_id, session_id=claims.session_id
            )
        except ReaderBusy:
            pass
        else:
            return accept_session(request, claims, account)
    async with request.app.state.db_gate.slot():
        return await run_in_threadpool(principal_of, request)


async def read_on_loop(request: Request, read: Callable[[LoopReader], Awaitable[T]]) -> T | None:
    """`read` on the event loop's own reader (dbfast.LoopReader: no worker thread); None when
    that reader cannot serve, and the caller reads in a worker thread."""
    reader: LoopReader | None = getattr(request.app.state, "loop_reader", None)
    if reader is None or not reader.available:
        return None
    try:
        return await read(reader)
    except ReaderBusy:
        return None


async def state_on_loop(
    request: Request, claims: Claims, course: CourseContent
) -> tuple[Account | None, learning.CourseState] | None:
    """The caller's account (None: no live session) and state in the course, in one query
    (learning.page_state) on the event loop's own reader; None when that reader cannot
    serve (read_on_loop)."""
    return await read_on_loop(
        request,
        lambda reader: learning.page_state_on_loop(
            reader, user_id=claims.user_id, session_id=claims.session_id, course=course
        ),
    )


async def optional_principal(request: Request) -> Principal | None:
    return await resolve_principal(request)


def csrf_seed(request: Request) -> str:
    """What a CSRF token is bound to: the login session, or a random pre-login cookie."""
    claims = token_claims(request)
    if claims is not None:
        return claims.session_id
    seed = request.cookies.get(CSRF_COOKIE) or state_value(request, "new_csrf_seed")
    if not seed:
        seed = secrets.token_urlsafe(16)
        request.state.new_csrf_seed = seed  # set as a cookie by the middleware
    return seed


def csrf_token_for(request: Request) -> str:
    return tokens.csrf_token(
        secret=request.app.state.settings.secret_key, token_id=csrf_seed(request)
    )


async def _check_csrf(request: Request, *, anonymous_too: bool) -> None:
    if request.method not in UNSAFE_METHODS:
        return
    token, from_cookie = bearer_token(request)
    if token and not from_cookie:
        return  # browsers never attach a bearer header by themselves
    if not from_cookie and not anonymous_too:
        return
    candidate = request.headers.get("x-csrf-token")
    if candidate is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        candidate = value if isinstance(value, str) else None
    seed = csrf_seed(request)
    if not tokens.csrf_ok(candidate, secret=request.app.state.settings.secret_key, token_id=seed):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "CSRF check failed: reload the page and try again",
        )


async def check_csrf_api(request: Request) -> None:
    """API calls authenticated by the browser cookie must send X-CSRF-Token."""
    await _check_csrf(request, anonymous_too=False)


async def check_csrf_form(request: Request) -> None:
    """Every HTML form post carries the token, logged in or not (login CSRF too)."""
    await _check_csrf(request, anonymous_too=True)


# Declares the OAuth2 password flow in the OpenAPI document, so /docs can log in. The token
# itself is read by principal_of, which also accepts the browser's cookie.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def api_principal(
    request: Request, _token: Annotated[str | None, Depends(oauth2_scheme)] = None
) -> Principal:
    principal = await resolve_principal(request)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


async def page_principal(request: Request) -> Principal:
    principal = await resolve_principal(request)
    if principal is None:
        raise LoginRequired
    return principal


async def page_claims(request: Request) -> Claims:
    """For pages that check the session inside their own query (the lesson page)."""
    claims = token_claims(request)
    if claims is None:
        raise LoginRequired
    return claims


def not_authenticated() -> HTTPException:
    """The API's answer to a caller without a live session."""
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, "Not authenticated", headers={"WWW-Authenticate": "Bearer"}
    )


async def api_claims(
    request: Request, _token: Annotated[str | None, Depends(oauth2_scheme)] = None
) -> Claims:
    """For API routes that check the session inside their own query (the JSON item): what
    the token says, without the database; 401 without a token of ours."""
    claims = token_claims(request)
    if claims is None:
        raise not_authenticated()
    return claims


def require_roles(*roles: str):
    async def check(principal: Annotated[Principal, Depends(api_principal)]) -> Principal:
        if not principal.has_role(*roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed for your role")
        return principal

    return check


def visible_course(
    course_id: str, request: Request, catalogue: Catalogue, principal: Principal | None
) -> CourseContent:
    """A course the caller may see: published ones for all, drafts for authors and up."""
    course = catalogue.get(course_id)
    if course is None or (
        not course.published
        and (principal is None or not principal.has_role("author", "coordinator"))
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Course '{course_id}' not found")
    return course


def require_page_roles(*roles: str):
    """For browser pages: a login redirect when logged out, a friendly 403 for other roles."""

    async def check(principal: Annotated[Principal, Depends(page_principal)]) -> Principal:
        if not principal.has_role(*roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed for your role")
        return principal

    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
TemplatesDep = Annotated[Templates, Depends(get_templates)]
EngineDep = Annotated[Engine, Depends(get_engine)]
GateDep = Annotated[ConnectionGate, Depends(get_gate)]
MaybeUser = Annotated[Principal | None, Depends(optional_principal)]
ApiUser = Annotated[Principal, Depends(api_principal)]
PageUser = Annotated[Principal, Depends(page_principal)]
PageClaims = Annotated[Claims, Depends(page_claims)]
ApiClaims = Annotated[Claims, Depends(api_claims)]
Coordinator = Annotated[Principal, Depends(require_roles("coordinator"))]
Author = Annotated[Principal, Depends(require_roles("author", "coordinator"))]
CoordinatorPage = Annotated[Principal, Depends(require_page_roles("coordinator"))]
AuthorPage = Annotated[Principal, Depends(require_page_roles("author", "coordinator"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
ApiCsrf = Depends(check_csrf_api)
FormCsrf = Depends(check_csrf_form)
