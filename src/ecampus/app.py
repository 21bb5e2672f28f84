"""create_app(settings) -> FastAPI: wiring only; behaviour lives in the domain packages."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import jinja2
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import Engine, exc, text
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecampus import __version__
from ecampus.courses.cache import CourseCache, private_folder
from ecampus.courses.catalog import Catalogue
from ecampus.courses.schema import (
    course_json_schema,
    issuer_json_schema,
    programme_json_schema,
)
from ecampus.db import (
    LOOP_READER_CONNECTIONS,
    ConnectionGate,
    DatabaseBusy,
    make_engine,
    make_gate,
)
from ecampus.dbfast import LoopReader
from ecampus.mail import sender as mail_sender
from ecampus.progression.refresh import refresh_courses
from ecampus.progression.repair import repair_at_start_up
from ecampus.ratelimit import RateLimiter
from ecampus.settings import Settings, get_settings
from ecampus.web import fastpath, inputguard, openapi, pages, routes, templating
from ecampus.web.assets import StaticAssets
from ecampus.web.bodylimit import BodyLimitMiddleware
from ecampus.web.deps import LoginRequired, resolve_principal
from ecampus.web.fastpath import LessonFastPath
from ecampus.web.language import LanguageMiddleware
from ecampus.web.routes import api_courses, html_learning
from ecampus.web.sessions import SessionMiddleware
from ecampus.web.templating import Templates

log = logging.getLogger(__name__)


def _load_courses(catalogue: Catalogue, engine: Engine, *, only_if_changed: bool) -> bool:
    """(Re)load the catalogue; bring stored progress up to date for new content versions."""
    if only_if_changed:
        if not catalogue.reload_if_changed(engine):
            return False
    else:
        catalogue.load(engine)
    refresh_courses(engine, catalogue, catalogue.new_versions)
    return True


async def _watch_courses(app: FastAPI, seconds: float) -> None:
    catalogue: Catalogue = app.state.catalogue
    while True:
        await asyncio.sleep(seconds)
        try:
            reloaded = await run_in_threadpool(
                _load_courses, catalogue, app.state.engine, only_if_changed=True
            )
            if reloaded:
                log.info(
                    "courses reloaded (generation %s, %d error(s))",
                    catalogue.generation,
                    sum(p.severity == "error" for p in catalogue.problems),
                )
        except Exception:  # a watcher that dies silently would freeze the catalogue
            log.exception("reloading courses failed; serving the last good versions")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _configure_logging() -> None:
    """Our own INFO messages (course reloads, errors) go where uvicorn's go: stderr."""
    logger = logging.getLogger("ecampus")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


class _TemplateBytecode(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between starts (Jinja checks each against its source), so
    the first pages after a start are not slowed by compiling them (0.1 s for a lesson
    page's). A file that does not load, or a folder gone, only costs the compile."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged file is a miss
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _template_cache(cache_dir: Path | None) -> jinja2.BytecodeCache | None:
    """A folder of compiled templates under ECAMPUS_CACHE_DIR, one per ecampus version,
    Jinja version and template settings (web/templating.py), which Jinja's own check (the
    template's source) does not cover."""
    if cache_dir is None:
        return None
    fingerprint = hashlib.sha256(f"{__version__} {jinja2.__version__}\n".encode())
    with contextlib.suppress(OSError):
        fingerprint.update(Path(templating.__file__).read_bytes())
    folder = private_folder(cache_dir / f"templates-{fingerprint.hexdigest()[:12]}")
    return _TemplateBytecode(str(folder)) if folder is not None else None


def create_app(settings: Settings | None = None, *, defer_routers: bool = False) -> FastAPI:
    settings = settings or get_settings()
    _configure_logging()
    settings.require_safe_secret()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size or None)
    catalogue = Catalogue(
        root=settings.courses_dir,
        cache=CourseCache(settings.cache_dir, settings.secret_key) if settings.cache_dir else None,
    )
    limiter = RateLimiter(
        settings.rate_limit_url,
        key_secret=settings.secret_key,
        exempt=settings.rate_limit_exempt,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_load_courses, catalogue, engine, only_if_changed=False)
        await run_in_threadpool(repair_at_start_up, engine, catalogue)
        watcher = (
            asyncio.create_task(_watch_courses(app, settings.watch_seconds))
            if settings.watch_courses
            else None
        )
        mailer = mail_sender.start(engine, app.state.db_gate, settings)
        try:
            yield
        finally:
            await mail_sender.stop(mailer)
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await app.state.loop_reader.aclose()
            engine.dispose()
            await app.state.limiter.close()

    app = FastAPI(
        title="ecampus",
        version=__version__,
        summary="Self-paced courses: catalogue, lessons, quizzes, progress, certificates, reports.",
        lifespan=lifespan,
        docs_url=None,  # routes/api_docs.py serves it from our own files (ECAMPUS_API_DOCS)
        redoc_url=None,
        dependencies=[inputguard.CHECK],  # no NUL or lone surrogate reaches a route
        # ecampus sends no OpenTelemetry; FastAPI's bridge would check for it on each request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.catalogue = catalogue
    app.state.db_gate = make_gate(engine, timeout=settings.db_queue_seconds)
    # The hot reads (each request's session check, the lesson page, the JSON item) on the
    # event loop itself, with no worker thread (see dbfast.LoopReader).
    app.state.loop_reader = LoopReader(engine, connections=LOOP_READER_CONNECTIONS)
    # Sessions close in threads of their own, never queued behind requests (see deps).
    app.state.db_closer = anyio.CapacityLimiter(app.state.db_gate.capacity)
    # Password checks (argon2: a core and 64 MB each) run a few at a time, holding no
    # database slot, so a room signing in at once cannot starve everyone else's requests.
    app.state.password_gate = ConnectionGate(
        max(2, os.cpu_count() or 2), timeout=settings.db_queue_seconds
    )
    app.state.limiter = limiter
    assets = StaticAssets(settings.static_dir)
    app.state.templates = Templates(settings.templates_dir, assets, zone=settings.zone)
    app.state.templates.context_hook = pages.page_context
    app.state.templates.env.bytecode_cache = _template_cache(settings.cache_dir)

    # Inside the language middleware, so a refused page speaks the reader's language.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(SessionMiddleware, resolve=resolve_principal)
    # Outermost: the lesson page, the hot path, the other hot reads and the hot writes,
    # without the layers inside (see fastpath).
    app.add_middleware(
        LessonFastPath,
        handler=html_learning.lesson_fast_path,
        routes=(
            (fastpath.CATALOGUE, html_learning.catalogue_fast_path),
            (fastpath.COURSE_PAGE, html_learning.course_fast_path),
            (fastpath.API_ITEM, api_courses.item_fast_path),
        ),
        writes=(
            (fastpath.API_ATTEMPT, api_courses.attempt_fast_path),
            (fastpath.API_COMPLETE, api_courses.complete_fast_path),
            (fastpath.PAGE_ATTEMPT, html_learning.attempt_fast_path),
            (fastpath.PAGE_COMPLETE, html_learning.complete_fast_path),
        ),
    )

    @app.get("/static/{name:path}", include_in_schema=False)
    async def static(name: str, request: Request) -> Response:
        return assets.response(request, name)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon(request: Request) -> Response:
        # Pages name their icons; browsers still ask here when they open a PDF or JSON URL.
        return assets.response(request, "favicon.ico")

    # The health check first: FastAPI prepares an included router's routes (their
    # dependencies, once more) on the first request that reaches the router, a fifth of a
    # second for all of them, which a health check after a start need not wait for.
    def ping() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @app.get("/healthz", tags=["operations"], response_model=None)
    async def healthz() -> dict[str, Any] | JSONResponse:
        """200 when the app and its database answer; 503 with Retry-After when not."""
        try:
            async with app.state.db_gate.slot():
                await run_in_threadpool(ping)
        except DatabaseBusy:
            raise
        except Exception as error:  # the point is to report any database failure as 503
            return JSONResponse(
                {"status": "unavailable", "detail": f"database: {type(error).__name__}"},
                status_code=503,
                headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)},
            )
        return {"status": "ok", "courses": len(catalogue.courses), "version": __version__}

    # In routing order; `ecampus serve` has most of them imported after the start.
    routes.include(app, api_docs=settings.api_docs, defer=defer_routers)
    app.state.templates.env.globals["api_docs"] = settings.api_docs  # the footer's API link

    @app.get("/schema/course.json", tags=["authoring"])
    async def course_schema() -> dict[str, Any]:
        """The JSON Schema of course.yaml, for editors (yaml-language-server) and CI."""
        return course_json_schema()

    @app.get("/schema/programme.json", tags=["authoring"])
    async def programme_schema() -> dict[str, Any]:
        """The JSON Schema of courses/programmes/*.yaml."""
        return programme_json_schema()

    @app.get("/schema/issuer.json", tags=["authoring"])
    async def issuer_schema() -> dict[str, Any]:
        """The JSON Schema of courses/issuer.yaml (who issues the certificates)."""
        return issuer_json_schema()

    _install_error_handlers(app)
    inputguard.install(app)
    openapi.install(app)
    return app


UNAVAILABLE_RETRY_SECONDS = 5


def _unavailable(request: Request, retry_after: int, why: str) -> Response:
    """503 with Retry-After: the database is saturated or unreachable, for now."""
    headers = {"Retry-After": str(retry_after)}
    if why == "busy":
        detail = "The server is busy; please try again in a few seconds. Nothing was lost."
    else:
        detail = "The database is not answering; please try again in a few seconds."
    if _is_api(request) or request.url.path.endswith((".pdf", ".json", "/healthz")):
        return JSONResponse({"detail": detail}, status_code=503, headers=headers)
    if not hasattr(request.state, "principal"):
        request.state.principal = None  # no account lookup for a page about the database
    response = pages.error_page(request, 503, "")
    response.headers.update(headers)
    return response


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": f"/login?next={target}"})
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or request.url.path.endswith((".pdf", ".json")):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        page = pages.error_page(request, exc.status_code, str(exc.detail))
        page.headers.update(exc.headers or {})  # Retry-After on a 429, for instance
        return page

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            errors = [
                {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        return pages.error_page(request, 422, "; ".join(str(e.get("msg")) for e in exc.errors()))

    @app.exception_handler(DatabaseBusy)
    async def database_busy(request: Request, error: DatabaseBusy) -> Response:
        return _unavailable(request, error.retry_after, "busy")

    @app.exception_handler(exc.TimeoutError)
    async def pool_timeout(request: Request, _error: exc.TimeoutError) -> Response:
        log.warning("database pool exhausted on %s %s", request.method, request.url.path)
        return _unavailable(request, UNAVAILABLE_RETRY_SECONDS, "busy")

    @app.exception_handler(exc.OperationalError)
    @app.exception_handler(exc.InterfaceError)
    async def database_down(request: Request, error: exc.DBAPIError) -> Response:
        # Lost connections, a server that is down or restarting, lock time-outs: the request
        # may succeed again shortly. SQLAlchemy has already invalidated dead connections.
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            str(error.orig or error).splitlines()[0][:200],
        )
        return _unavailable(request, UNAVAILABLE_RETRY_SECONDS, "unavailable")

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _is_api(request):
            return JSONResponse({"detail": "Internal server error"}, status_code=500)
        return pages.error_page(request, 500, "")
