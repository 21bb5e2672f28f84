"""The attacked campus, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecampus.app import create_app
from tests.conftest import make_settings
from tests.security.world import World, add_course_copies, build_world


@pytest.fixture
def world(database_url: str, courses_dir: Path) -> Iterator[World]:
    add_course_copies(courses_dir)
    app = create_app(make_settings(database_url, courses_dir))
    with TestClient(app, follow_redirects=False) as client:
        yield build_world(client)
