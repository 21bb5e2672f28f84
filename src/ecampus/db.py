"""Engine, sessions and the metadata Alembic migrates."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel, create_engine

# Every table module is imported here so that SQLModel.metadata is complete for Alembic.
from ecampus.accounts import models as _accounts  # noqa: F401
from ecampus.audit import models as _audit  # noqa: F401
from ecampus.certificates import models as _certificates  # noqa: F401
from ecampus.courses import models as _courses  # noqa: F401
from ecampus.dbfold import register_sqlite
from ecampus.learning import models as _learning  # noqa: F401
from ecampus.mail import models as _mail  # noqa: F401
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
    # What PostgreSQL does with translate(): searches that ignore case and accents.
    register_sqlite(dbapi_connection)


# Pool sizes (measured on 2 cores, docs/operating.md "Connections"): a request that holds a
# connection must never wait for something held by a request that waits for a connection.
# The web layer admits at most `ConnectionGate.capacity` requests to the database at once
# (waiting on the event loop, not in a thread), so a worker thread never blocks on the pool;
# the pool keeps a few connections more for background work (course reloads, the watcher).
SQLITE_POOL_SIZE = 24
# On PostgreSQL the event loop's own reader (dbfast.LoopReader) keeps LOOP_READER_CONNECTIONS
# more, so that a worker still holds 12 connections in all.
POSTGRES_POOL_SIZE = 10
LOOP_READER_CONNECTIONS = 2
RESERVED_CONNECTIONS = 4  # for work outside requests: course (re)loads, start-up repairs
# A checkout that still waits (a bug, or work outside the gate) fails fast instead of
# freezing a thread for 30 s; the request gets a 503 with Retry-After.
POOL_TIMEOUT_SECONDS = 5.0


class DatabaseBusy(Exception):
    """No database connection could be had in time: answered 503 with Retry-After."""

    def __init__(self, retry_after: int = 2) -> None:
        super().__init__("the database is busy")
        self.retry_after = retry_after


def pool_capacity(engine: Engine) -> int:
    """How many connections the engine's pool hands out at most."""
    pool = engine.pool
    size = getattr(pool, "size", None)
    if not callable(size):  # StaticPool (in-memory SQLite): one shared connection
        return 1
    overflow = getattr(pool, "_max_overflow", 0)
    return int(size()) + max(int(overflow), 0)


class ConnectionGate:
    """Admits requests to the database no faster than the pool can serve them.

    A request waits for a slot on the event loop (cheap, no thread held); once admitted, its
    connection checkout cannot wait, because slots never outnumber free connections. When
    the wait is longer than `timeout` or more than `max_waiting` requests already wait, the
    request is refused with DatabaseBusy (a fast 503) instead of queueing without end.
    """

    def __init__(self, capacity: int, *, timeout: float = 10.0, max_waiting: int = 1000):
        self.capacity = max(1, capacity)
        self.timeout = timeout
        self.max_waiting = max_waiting
        self._semaphore: asyncio.Semaphore | None = None
        self._waiting = 0

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:  # bound to the running loop on first use
            self._semaphore = asyncio.Semaphore(self.capacity)
        return self._semaphore

    @property
    def in_use(self) -> int:
        return self.capacity - self.semaphore._value if self._semaphore else 0

    async def acquire(self) -> None:
        semaphore = self.semaphore
        if not semaphore.locked():
            await semaphore.acquire()  # free slot: returns at once, no loop iteration
            return
        if self._waiting >= self.max_waiting:
            raise DatabaseBusy
        self._waiting += 1
        try:
            async with asyncio.timeout(self.timeout):
                await semaphore.acquire()
        except TimeoutError:
            raise DatabaseBusy from None
        finally:
            self._waiting -= 1

    def release(self) -> None:
        self.semaphore.release()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()


def make_gate(engine: Engine, *, timeout: float = 10.0) -> ConnectionGate:
    capacity = pool_capacity(engine)
    reserve = RESERVED_CONNECTIONS if capacity > 2 * RESERVED_CONNECTIONS else 0
    return ConnectionGate(capacity - reserve, timeout=timeout)


def make_engine(url: str, *, pool_size: int | None = None) -> Engine:
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine(
                url, connect_args={"check_same_thread": False}, poolclass=StaticPool
            )
        else:
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False},
                pool_size=pool_size or SQLITE_POOL_SIZE,
                max_overflow=0,
                pool_timeout=POOL_TIMEOUT_SECONDS,
            )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No pre-ping: it would add a round trip to every request. A connection found dead
    # invalidates the whole pool (SQLAlchemy's disconnect handling), so after a database
    # restart the next requests reconnect by themselves; recycling covers idle limits.
    # 12 connections per app process: eight workers stay under PostgreSQL's default
    # max_connections of 100. connect_timeout bounds a dead server's cost to a request.
    return create_engine(
        url,
        pool_size=pool_size or POSTGRES_POOL_SIZE,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_recycle=1800,
        connect_args={"connect_timeout": 3},
    )
