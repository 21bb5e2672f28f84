"""Starting the app: the courses come from the cache on a restart, the health check answers
before any router's routes are prepared, `ecampus serve`'s factory leaves the garbage
collector on once started, and the routers it imports after the start route every request
as the app with all of them does (a request that needs one waits for it)."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from ecampus import cli
from ecampus.app import create_app
from ecampus.settings import Settings, get_settings
from ecampus.web import routes
from tests.conftest import SECRET, make_settings


def test_a_restart_serves_the_cached_courses(
    database_url: str, courses_dir: Path, tmp_path: Path
) -> None:
    settings = make_settings(database_url, courses_dir, cache_dir=tmp_path / "cache")
    pages = []
    for start in range(2):
        app = create_app(settings)
        with TestClient(app) as client:
            assert app.state.catalogue.from_cache == (start == 1)
            health = client.get("/healthz")
            assert health.status_code == 200
            assert health.json()["courses"] == len(app.state.catalogue.courses) > 0
            page = client.get("/courses/demo-course").text
            pages.append(re.sub(r'content="[0-9a-f]{32}"', "", page))  # the CSRF token
    assert pages[0] == pages[1]
    assert list((tmp_path / "cache").iterdir())


def test_the_health_check_comes_before_the_routers(client: TestClient) -> None:
    paths = [getattr(route, "path", None) for route in client.app.router.routes]  # type: ignore[attr-defined]
    assert paths.index("/healthz") < paths.index("/schema/course.json")
    assert client.get("/healthz").json()["status"] == "ok"


@pytest.fixture
def serve_env(monkeypatch: pytest.MonkeyPatch, database_url: str, courses_dir: Path) -> None:
    for name, value in {
        "ECAMPUS_ENV": "test",
        "ECAMPUS_SECRET_KEY": SECRET,
        "ECAMPUS_DATABASE_URL": database_url,
        "ECAMPUS_COURSES_DIR": str(courses_dir),
        "ECAMPUS_WATCH_COURSES": "false",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@contextmanager
def serving() -> Iterator[tuple[Any, TestClient]]:
    """What `ecampus serve` runs (cli.serve_app), started in a test client; the collector
    is left on and unfrozen afterwards, whatever happened."""
    try:
        app = cli.serve_app()
        with TestClient(app) as client:
            yield app, client
    finally:
        gc.unfreeze()
        gc.enable()


@pytest.mark.usefixtures("serve_env")
def test_serve_starts_with_the_collector_off_and_leaves_it_on() -> None:
    assert gc.isenabled()
    try:
        app = cli.serve_app()
        assert not gc.isenabled()  # while the app is made and started
        with TestClient(app) as client:
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0  # what the start made is left out of collections
            assert client.get("/healthz").status_code == 200
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


def test_compiled_templates_are_kept_between_starts(
    database_url: str, courses_dir: Path, tmp_path: Path
) -> None:
    settings = make_settings(database_url, courses_dir, cache_dir=tmp_path / "cache")
    pages = []
    for start in range(3):
        app = create_app(settings)
        with TestClient(app) as client:
            assert app.state.templates.env.bytecode_cache is not None
            page = client.get("/courses/demo-course").text
            pages.append(re.sub(r'content="[0-9a-f]{32}"', "", page))
        folders = list((tmp_path / "cache").glob("templates-*"))
        assert len(folders) == 1
        compiled = sorted(folders[0].iterdir())
        assert compiled
        if start == 1:  # damaged files are compiled again, never a failed page
            for file in compiled:
                file.write_bytes(file.read_bytes()[:20])
    assert pages[0] == pages[1] == pages[2]


def test_a_folder_others_may_write_is_not_used(tmp_path: Path) -> None:
    from ecampus.app import _template_cache

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert _template_cache(shared) is not None  # its own folder inside is private
    folder = next(shared.glob("templates-*"))
    folder.chmod(0o777)
    assert _template_cache(shared) is None
    assert _template_cache(None) is None


def routing(app: Any) -> list[tuple[Any, ...]]:
    """The app's routes in matching order: an included router by its own routes."""
    described: list[tuple[Any, ...]] = []
    for route in app.router.routes:
        router = getattr(route, "original_router", None)
        if router is not None:
            described.append(("router", id(router), len(router.routes)))
        else:
            described.append((type(route).__name__, route.path, sorted(route.methods or ())))
    return described


def stack(app: Any) -> list[str]:
    names, layer = [], app.middleware_stack
    while layer is not None and len(names) < 32:
        names.append(type(layer).__name__)
        layer = getattr(layer, "app", None)
    return names


@pytest.mark.parametrize("api_docs", [False, True])
def test_the_routers_imported_after_the_start_route_as_all_of_them(
    database_url: str, courses_dir: Path, api_docs: bool
) -> None:
    settings = make_settings(database_url, courses_dir, api_docs=api_docs)
    eager = create_app(settings)
    deferred = create_app(settings, defer_routers=True)
    with TestClient(eager) as first, TestClient(deferred) as then:
        # The document waits for every route, as any request the first routers do not route.
        document = then.get("/openapi.json")
        assert deferred.state.later_routers.ready
        assert document.json() == first.get("/openapi.json").json()
        assert routing(deferred) == routing(eager)
        for path in ("/login", "/api/v1/me/courses", "/no/such/page", "/docs"):
            a, b = first.get(path), then.get(path)
            assert (b.status_code, b.headers.get("content-type")) == (
                a.status_code,
                a.headers.get("content-type"),
            ), path
        assert "_Gate" not in stack(deferred)  # out of the way once they are in


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The routers' loading held until the event is set."""
    release = threading.Event()
    load = routes.LaterRouters._load

    async def held_load(self: routes.LaterRouters) -> None:
        await anyio.to_thread.run_sync(release.wait)
        await load(self)

    monkeypatch.setattr(routes.LaterRouters, "_load", held_load)
    yield release
    release.set()


def test_a_request_waits_for_the_router_it_needs(settings: Settings, held: threading.Event) -> None:
    app = create_app(settings, defer_routers=True)
    with TestClient(app) as client, ThreadPoolExecutor(3) as pool:
        later = app.state.later_routers
        # What the first routers route is served at once: the health check, the catalogue,
        # a course page, sign-in over the API (a wrong password, but an answer).
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 200
        assert client.get("/courses/demo-course").status_code == 200
        form = {"username": "nobody@example.org", "password": "not-a-password"}
        assert client.post("/api/v1/auth/token", data=form).status_code == 401
        assert not later.ready
        login = pool.submit(client.get, "/login")
        missing = pool.submit(client.get, "/no/such/page")
        document = pool.submit(client.get, "/openapi.json")
        time.sleep(0.3)
        assert not login.done()
        assert not missing.done()
        assert not document.done()
        held.set()
        assert login.result(timeout=60).status_code == 200
        assert missing.result(timeout=60).status_code == 404
        assert "/api/v1/me/courses" in document.result(timeout=60).json()["paths"]
        assert later.ready
        assert later.seconds > 0


@pytest.mark.usefixtures("serve_env")
def test_serve_imports_the_later_routers_after_the_start() -> None:
    with serving() as (app, client):
        assert client.get("/healthz").status_code == 200
        assert client.get("/login").status_code == 200  # waits for them
        assert app.state.later_routers.ready
        assert gc.freeze in app.state.later_routers.on_ready  # what they made, frozen too


@pytest.mark.usefixtures("serve_env")
def test_serve_has_the_courses_parsed_beside_it_when_the_cache_is_not_current(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ECAMPUS_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    counts = []
    for _start in range(2):
        with serving() as (app, client):
            assert app.state.catalogue.from_cache  # written by the process beside it
            counts.append(client.get("/healthz").json()["courses"])
    assert counts[0] == counts[1] > 0
    # That process parses only when the cache does not look current.
    from ecampus.courses.cache import fill

    courses = Path(os.environ["ECAMPUS_COURSES_DIR"])
    assert fill(courses, tmp_path / "cache", SECRET) is False
    (courses / "demo-course" / "course.yaml").touch()
    assert fill(courses, tmp_path / "cache", SECRET) is True
    assert fill(courses, tmp_path / "cache", SECRET) is False
    assert fill(courses, courses / "cache", SECRET) is False  # not used there: not filled


def test_the_cache_looks_current_until_a_course_file_changes(
    database_url: str, courses_dir: Path, tmp_path: Path
) -> None:
    from ecampus.courses.cache import CourseCache, scan

    cache = CourseCache(tmp_path / "cache", SECRET)
    assert not cache.looks_current(courses_dir, scan(courses_dir))  # nothing written yet
    settings = make_settings(database_url, courses_dir, cache_dir=tmp_path / "cache")
    with TestClient(create_app(settings)) as client:  # parses, and writes the cache
        assert client.get("/healthz").status_code == 200
    assert cache.looks_current(courses_dir, scan(courses_dir))
    time.sleep(0.01)
    (courses_dir / "demo-course" / "course.yaml").touch()
    assert not cache.looks_current(courses_dir, scan(courses_dir))


@pytest.mark.usefixtures("serve_env")
def test_a_failed_filling_process_only_costs_the_parse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ECAMPUS_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    popen = subprocess.Popen
    monkeypatch.setattr(
        cli.subprocess,
        "Popen",
        lambda _args, **kwargs: popen([sys.executable, "-c", "raise SystemExit(3)"], **kwargs),
    )
    with serving() as (app, client):
        assert not app.state.catalogue.from_cache  # parsed by the start itself
        assert client.get("/healthz").json()["courses"] > 0
        assert client.get("/courses/demo-course").status_code == 200


def test_serve_asks_glibc_for_two_malloc_arenas_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ctypes

    calls: list[tuple[int, int]] = []

    class Libc:
        def __init__(self, _name: object) -> None:
            self.mallopt = lambda option, value: calls.append((option, value)) or 1

    monkeypatch.setattr(ctypes, "CDLL", Libc)
    monkeypatch.setattr(cli.sys, "platform", "linux")
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    cli._fewer_malloc_arenas()
    assert calls == [(-8, 2)]  # M_ARENA_MAX
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    cli._fewer_malloc_arenas()
    assert calls == [(-8, 2)]


def test_the_later_routers_come_in_by_themselves_once_requests_pause(settings: Settings) -> None:
    app = create_app(settings, defer_routers=True)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200  # served at once, whatever loads
        for _tick in range(200):
            if app.state.later_routers.ready:
                break
            time.sleep(0.05)
        assert app.state.later_routers.ready  # with no request that needed them
        assert client.get("/login").status_code == 200
