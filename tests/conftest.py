"""Shared fixtures: real databases (SQLite, and PostgreSQL when configured), the real app."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ecampus import dbmigrate
from ecampus.accounts import passwords
from ecampus.app import create_app
from ecampus.db import metadata
from ecampus.settings import Settings
from tests import cheap_passwords

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_COURSES = ROOT / "tests" / "fixtures" / "courses"
BUNDLED_COURSES = ROOT / "courses"
SECRET = "test-secret-key-that-is-long-enough-0123456789"
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("ECAMPUS_TEST_POSTGRES_URL", "")


def skip_or_fail(reason: str) -> None:
    """Tests whose prerequisites are missing skip locally but fail in CI."""
    if IN_CI:
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords hashed at argon2id's lowest cost (tests/cheap_passwords.py says why)."""
    for name, value in cheap_passwords.PATCHES.items():
        monkeypatch.setattr(passwords, name, value)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    dbmigrate.upgrade(f"sqlite:///{path}")
    return path


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a migrated PostgreSQL database for the duration of the block, then drop it."""
    if not POSTGRES_URL:
        skip_or_fail("ECAMPUS_TEST_POSTGRES_URL is not set")
    url = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"ecampus_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to reach PostgreSQL means skip (or fail in CI)
        admin.dispose()
        skip_or_fail(f"cannot create a PostgreSQL database at {url.host}: {exc}")
    test_url = url.set(database=name).render_as_string(hide_password=False)
    try:
        dbmigrate.upgrade(test_url)
        yield test_url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    with fresh_postgres_database() as url:
        yield url


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that uses the database runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ecampus.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


def make_settings(database_url: str, courses_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": SECRET,
        "environment": "test",
        "courses_dir": courses_dir,
        "base_url": "http://testserver",
        "watch_courses": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def courses_dir(tmp_path: Path) -> Path:
    """A private copy of the fixture courses, so tests may edit them."""
    target = tmp_path / "courses"
    shutil.copytree(FIXTURE_COURSES, target)
    return target


@pytest.fixture
def settings(database_url: str, courses_dir: Path) -> Settings:
    return make_settings(database_url, courses_dir)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def bundled_client(database_url: str) -> Iterator[TestClient]:
    """The app serving the bundled courses, as `make run` does."""
    with TestClient(create_app(make_settings(database_url, BUNDLED_COURSES))) as test_client:
        yield test_client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for pytest-xdist's `--dist loadgroup` (make test: -n 2): a browser test goes
    where its live server already runs (one per database, started once per worker that has
    its group); the load and soak tests, which push a server to its limits and time it, go
    one after another on one worker, never two at once. Other tests go anywhere."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = _xdist_group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


def _xdist_group(item: pytest.Item) -> str | None:
    parts = Path(str(item.path)).relative_to(ROOT).parts
    folder = parts[1] if len(parts) > 2 and parts[0] == "tests" else ""
    if folder in ("load", "soak"):
        return "stress"
    if folder == "browser":
        params = getattr(getattr(item, "callspec", None), "params", {})
        return f"browser-{params.get('live_server') or params.get('mail_site') or 'none'}"
    return None
