"""Engine, sessions and the metadata Alembic migrates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel, create_engine

# Every table module is imported here so that SQLModel.metadata is complete for Alembic.
from ecampus.accounts import models as _accounts  # noqa: F401
from ecampus.certificates import models as _certificates  # noqa: F401
from ecampus.courses import models as _courses  # noqa: F401
from ecampus.learning import models as _learning  # noqa: F401
from ecampus.quizzes import models as _quizzes  # noqa: F401

metadata = SQLModel.metadata


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and the single writer work at once; busy_timeout makes writers
    # from several processes wait for each other instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# Sync routes and run_in_threadpool share AnyIO's 40 worker threads. A pool smaller than
# that opens and closes "overflow" connections under load, which costs more than a query.
POOL_SIZE = 40


def make_engine(url: str, *, pool_size: int = POOL_SIZE) -> Engine:
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine(
                url, connect_args={"check_same_thread": False}, poolclass=StaticPool
            )
        else:
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False},
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=30,
            )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No pre-ping: it would add a round trip to every request. Recycling connections
    # before typical server/firewall idle limits covers the same failures.
    # At most 20 connections per app process: four workers stay under PostgreSQL's
    # default max_connections of 100.
    return create_engine(url, pool_size=15, max_overflow=5, pool_recycle=1800)
