"""Starting the app: the courses come from the cache on a restart, the health check answers
before any router's routes are prepared, and `ecampus serve`'s factory leaves the garbage
collector on once started."""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecampus import cli
from ecampus.app import create_app
from ecampus.settings import get_settings
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
