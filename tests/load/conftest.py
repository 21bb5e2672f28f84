"""A real uvicorn server on SQLite or PostgreSQL, for tests that need real concurrency.

The TestClient runs one request at a time; a freeze under concurrency, a pool exhausted by
requests waiting for threads, or a database outage only shows against a served app."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from ecampus import dbmigrate
from ecampus.accounts import passwords
from ecampus.accounts.models import User
from ecampus.db import make_engine
from ecampus.eventloop import UVICORN_LOOP
from tests import liveserver
from tests.conftest import FIXTURE_COURSES, SECRET, fresh_postgres_database

PASSWORD = "concurrency-password-123"


@pytest.fixture
def cheap_password_hashes() -> None:
    """Passwords at production cost here (tests/conftest.py makes them cheap elsewhere): these
    tests load a real server with sign-ins, and their cost is part of the load."""


@dataclass
class Served:
    base_url: str
    database_url: str
    log_path: Path
    process: subprocess.Popen[bytes]
    learners: list[str] = field(default_factory=list)

    def log(self) -> str:
        return liveserver.log_tail(self.log_path)


def make_learners(database_url: str, count: int, *, prefix: str = "load") -> list[str]:
    """Learner accounts sharing one password hash (hashing each would take seconds)."""
    engine = make_engine(database_url)
    emails = [f"{prefix}{n}@example.org" for n in range(count)]
    password_hash = passwords.hash_password(PASSWORD)
    try:
        with Session(engine) as session:
            for email in emails:
                session.add(
                    User(
                        email=email,
                        password_hash=password_hash,
                        full_name=f"Participante {email.split('@')[0]}",
                        institution="Instituto",
                        institution_type="government",
                        country="GT",
                    )
                )
            session.commit()
    finally:
        engine.dispose()
    return emails


@contextlib.contextmanager
def serve(folder: Path, database_url: str, *, learners: int, **env_extra: str) -> Iterator[Served]:
    port = liveserver.free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ECAMPUS_ENV": "test",
        "ECAMPUS_SECRET_KEY": SECRET,
        "ECAMPUS_DATABASE_URL": database_url,
        "ECAMPUS_COURSES_DIR": str(FIXTURE_COURSES),
        "ECAMPUS_BASE_URL": base_url,
        "ECAMPUS_WATCH_COURSES": "false",
        # These tests are about concurrency, not abuse: every request comes from 127.0.0.1,
        # like a training room behind one address (tests/web/test_throttling.py covers limits).
        "ECAMPUS_RATE_LIMIT_EXEMPT": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
        **env_extra,
    }
    emails = make_learners(database_url, learners)
    log_path = folder / f"server-{port}.log"
    command = [sys.executable, "-m", "uvicorn", "ecampus.app:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
               "--loop", UVICORN_LOOP]  # fmt: skip
    with liveserver.running(
        command, env=env, cwd=folder, log_path=log_path, health_url=f"{base_url}/healthz"
    ) as process:
        yield Served(base_url, database_url, log_path, process, emails)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("load")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            database_url = f"sqlite:///{folder / 'load.db'}"
            dbmigrate.upgrade(database_url)
        else:
            database_url = stack.enter_context(fresh_postgres_database())
        yield stack.enter_context(serve(folder, database_url, learners=10))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the tail of the server's log to a failing test's report."""
    report = yield
    server = item.funcargs.get("served") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(server, Served):
        report.sections.append(("server log (tail)", server.log()))
    # test_two_processes.py: its two servers' logs.
    pair = item.funcargs.get("pair") if hasattr(item, "funcargs") else None
    if report.failed:
        for log in getattr(pair, "logs", ()):
            report.sections.append((f"{log.name} (tail)", liveserver.log_tail(log)))
    return report
