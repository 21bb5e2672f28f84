"""Statements compiled once, run on a driver cursor: for the hot reads and writes.

SQLAlchemy's work around each execution (a Connection, the execution context, the result
object, the pool's events) costs about four times what SQLite needs for the lesson page's
whole query (measured: 230 µs against 47 µs, bench/profile.py and a micro-benchmark). The
lesson page runs that query on every request, so it runs it here instead: the statement is
compiled by SQLAlchemy once per dialect, its parameters and results go through the
columns' own type processors (rows read exactly as through SQLAlchemy: aware UTC datetimes,
booleans), and driver errors come out as SQLAlchemy's, after SQLAlchemy's own disconnect
handling, so the app's 503 handlers and pool recovery work unchanged.

Reads run in autocommit on PostgreSQL (no BEGIN and ROLLBACK round trips); the hot writes
(a quiz submission, a lesson done: several statements in one transaction) run inside a
Connection's transaction, where SQLAlchemy's per-execution work cost several times the
statement's own (50-60 µs against under 10 µs for a one-row insert on SQLite).

`LoopReader` runs such a query on the event loop itself, with no worker thread: see there.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

Processor = Callable[[Any], Any]
# A statement, or what makes it for a dialect's name (a write built differently for
# PostgreSQL and SQLite): compiled once per dialect either way.
Statement = Any | Callable[[str], Any]


@dataclass(frozen=True)
class _Plan:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order, for positional drivers
    given: tuple[str, ...]  # parameters taken as given
    converted: tuple[tuple[str, Processor], ...]  # and through their processor
    fixed: Mapping[str, Any]  # parameters with a value of their own, processed
    columns: tuple[Any, ...]  # the result's columns (selected or returned), for their types
    # (column index, processor) for the result's columns whose type converts anything;
    # they depend on the driver's type codes, read from the first result.
    results: list[tuple[tuple[int, Processor], ...]] = field(default_factory=list)

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = dict(self.fixed)
        for name in self.given:
            values[name] = params[name]
        for name, process in self.converted:
            values[name] = process(params[name])
        if self.positional is not None:
            return tuple(values[name] for name in self.positional)
        return values

    def processors_for(self, dialect: Dialect, cursor: Any) -> tuple[tuple[int, Processor], ...]:
        # A cursor's description is made anew at each call (psycopg builds a Column object
        # per column): read it only the first time.
        if not self.results:
            found = (
                (index, column.type._cached_result_processor(dialect, described[1]))
                for index, (column, described) in enumerate(
                    zip(self.columns, cursor.description, strict=True)
                )
            )
            self.results.append(tuple((i, p) for i, p in found if p is not None))
        return self.results[0]


def _compile(statement: Any, dialect: Dialect) -> _Plan:
    compiled = statement.compile(dialect=dialect)
    given: list[str] = []
    converted: list[tuple[str, Processor]] = []
    fixed: dict[str, Any] = {}
    for bind, name in compiled.bind_names.items():
        process = bind.type._cached_bind_processor(dialect)
        if not bind.required and bind.callable is None:
            fixed[name] = process(bind.value) if process else bind.value
        elif process is None:
            given.append(name)
        else:
            converted.append((name, process))
    positional = tuple(compiled.positiontup or ()) if compiled.positional else None
    columns: tuple[Any, ...] = tuple(
        getattr(statement, "selected_columns", None) or getattr(statement, "_returning", None) or ()
    )
    return _Plan(compiled.string, positional, tuple(given), tuple(converted), fixed, columns)


class PreparedQuery:
    """A statement compiled once per dialect, run on a driver cursor:

    - `rows(engine, params)`: a read on the pool's own driver connection, in autocommit on
      PostgreSQL (no BEGIN and ROLLBACK round trips);
    - `run(connection, params)`: inside a Connection's transaction (SQLAlchemy commits or
      rolls it back as usual, and a Session bound to the Connection shares it), for the
      hot writes; empty for a statement that returns no rows;
    - `LoopReader.rows(query, params)`: a read on the event loop.

    Each gives what `connection.execute(statement, params).all()` would, as tuples. Every
    bound parameter without a value of its own must be given by name. `statement` may be
    a function of the dialect's name that makes it."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is not None:
            return plan
        with self._lock:
            statement = self.statement
            if callable(statement) and not hasattr(statement, "compile"):
                statement = statement(dialect.name)
            plan = self._plans[dialect.name] = _compile(statement, dialect)
            return plan

    def sql(self, dialect: Dialect) -> str:
        return self._plan(dialect).sql

    def rows(self, engine: Engine, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        dialect = engine.dialect
        plan = self._plan(dialect)
        values = plan.parameters(params)
        autocommit = dialect.name == "postgresql"
        try:
            fairy = engine.raw_connection()
        except dialect.loaded_dbapi.Error as exc:  # no connection: the server is gone
            raise DBAPIError.instance(
                None, None, exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        cursor = None
        try:
            driver = fairy.driver_connection
            if autocommit:
                driver.autocommit = True  # type: ignore[union-attr]
            try:
                cursor = fairy.cursor()
                # The engine's statement listeners still hear of it (tests count statements
                # this way), with no Connection or execution context, which it has not.
                _announce(engine, None, cursor, plan, values)
                cursor.execute(plan.sql, values)
                raw = cursor.fetchall()
                processors = plan.processors_for(dialect, cursor)
            finally:
                if autocommit and fairy.is_valid:
                    driver.autocommit = False  # type: ignore[union-attr]
                if cursor is not None:
                    cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            disconnect = dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
            if disconnect:
                # As SQLAlchemy does on a disconnect: this connection and the pool's older
                # ones are replaced, so the next requests reconnect by themselves.
                engine.pool._invalidate(fairy, exc)
            raise DBAPIError.instance(
                plan.sql,
                values,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=disconnect,
                dialect=dialect,
            ) from exc
        finally:
            fairy.close()
        return _processed(processors, raw)

    def run(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        dialect = connection.dialect
        plan = self._plan(dialect)
        values = plan.parameters(params)
        raw = connection.connection  # the pool's connection: the Connection's transaction
        cursor = raw.cursor()
        try:
            _announce(connection.engine, connection, cursor, plan, values)
            cursor.execute(plan.sql, values)
            if cursor.description is None:
                return []
            rows = cursor.fetchall()
            processors = plan.processors_for(dialect, cursor)
        except dialect.loaded_dbapi.Error as exc:
            disconnect = dialect.is_disconnect(exc, raw.dbapi_connection, cursor)
            error = DBAPIError.instance(
                plan.sql,
                values,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=disconnect,
                dialect=dialect,
            )
            if disconnect:  # as SQLAlchemy does: this connection (and the pool) is replaced
                connection.invalidate(error)
            raise error from exc
        finally:
            cursor.close()
        return _processed(processors, rows)


def _processed(
    processors: Sequence[tuple[int, Processor]], raw: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    # Only the columns whose type converts anything (SQLite's datetimes, say) are touched.
    if not processors:
        return [tuple(row) for row in raw]
    # A join repeats the same values row after row (the session's end, the enrolment's
    # dates beside each item row): each distinct one is converted once, and the result
    # shared only when it cannot be changed in place (hashable: a datetime, not a dict).
    seen: list[dict[Any, Any]] = [{} for _ in processors]
    rows = []
    for row in raw:
        values = list(row)
        for (n, process), done in zip(processors, seen, strict=True):
            value = values[n]
            if value is None:
                continue
            try:
                values[n] = done[value]
            except KeyError:
                values[n] = converted = process(value)
                if getattr(converted, "__hash__", None) is not None:
                    done[value] = converted
            except TypeError:  # an unhashable raw value: converted each time
                values[n] = process(value)
        rows.append(tuple(values))
    return rows


def _announce(
    engine: Engine, connection: Connection | None, cursor: Any, plan: _Plan, values: Any
) -> None:
    # The engine's statement listeners hear of each statement (tests count them this way).
    for listener in engine.dispatch.before_cursor_execute:
        listener(connection, cursor, plan.sql, values, None, False)


class ReaderBusy(Exception):
    """The loop reader cannot answer now (SQLite busy, every connection in use): the caller
    reads in a worker thread instead, as it would without a loop reader."""


class LoopReader:
    """A PreparedQuery's rows, read on the event loop: no worker thread at all.

    Handing a query to a worker thread and taking the answer back costs more than the whole
    lesson page besides: measured in-process, sequential requests, SQLite, 2 cores: a thread
    round trip 280 µs of wall time against 120 µs for the page's query itself, and the page
    took 1,120 µs with the hop against 264 µs without it. So the hot reads (each request's
    session check, the lesson page, the JSON item) read here:

    - **SQLite** (a file): one connection of this process's own, used only from the event
      loop, read-only (`query_only`). In WAL mode a reader never waits for the writer; were
      it ever told the database is busy, it does not wait (`busy_timeout` 0) but raises
      ReaderBusy, and the caller reads in a worker thread, where waiting is harmless.
    - **PostgreSQL**: a few psycopg `AsyncConnection`s in autocommit (`connections`, 2 by
      default, besides the pool's), awaited on the loop: other requests go on while the
      server answers. When all are busy for longer than `wait`, ReaderBusy. A connection
      found broken is dropped; if it had served before, the read is tried once more on a
      new one (a database restart costs no request).
    - Anything else (in-memory SQLite, whose single connection the pool shares) is not
      `available`: callers use a worker thread.

    Errors are SQLAlchemy's (DBAPIError.instance), as from PreparedQuery, so the app's 503
    handling is unchanged. Connections follow the running loop: on another loop (tests
    start one per client) the old ones are closed and new ones opened.
    """

    def __init__(self, engine: Engine, *, connections: int = 2, wait: float = 0.5) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.size = max(1, connections)
        self.wait = wait
        name = self.dialect.name
        database = engine.url.database
        self._sqlite = (
            name == "sqlite"
            and not isinstance(engine.pool, StaticPool)
            and bool(database)
            and database != ":memory:"
            and "mode=memory" not in str(engine.url)
        )
        self._postgres = name == "postgresql" and self.dialect.driver == "psycopg"
        self.available = self._sqlite or self._postgres
        self._open: list[Any] = []  # every connection made and not yet closed
        self._idle: asyncio.LifoQueue[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Connections left open when the reader is forgotten are closed then (psycopg warns
        # of an unclosed connection, and the tests make warnings errors).
        self._finalizer = weakref.finalize(self, _finish_all, self._open)

    async def rows(self, query: PreparedQuery, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if self._sqlite:
            return self._sqlite_rows(query, params)
        if self._postgres:
            return await self._postgres_rows(query, params)
        raise ReaderBusy("no loop reader for this database")

    # SQLite: a plain call, as quick as the query (tens of microseconds).
    def _sqlite_connection(self) -> Any:
        if self._open:
            return self._open[0]
        cargs, cparams = self.dialect.create_connect_args(self.engine.url)
        cparams = {**cparams, "check_same_thread": False}
        connection = self.dialect.loaded_dbapi.connect(*cargs, **cparams)
        try:
            connection.execute("PRAGMA busy_timeout=0")
            connection.execute("PRAGMA query_only=1")
        except Exception:
            connection.close()
            raise
        self._open.append(connection)
        return connection

    def _sqlite_rows(
        self, query: PreparedQuery, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        dialect = self.dialect
        plan = query._plan(dialect)
        values = plan.parameters(params)
        dbapi = dialect.loaded_dbapi
        try:
            connection = self._sqlite_connection()
            cursor = connection.cursor()
            try:
                _announce(self.engine, None, cursor, plan, values)
                cursor.execute(plan.sql, values)
                raw = cursor.fetchall()
                processors = plan.processors_for(dialect, cursor)
            finally:
                cursor.close()
        except dbapi.OperationalError as exc:
            message = str(exc).lower()
            if "locked" in message or "busy" in message:
                raise ReaderBusy(str(exc)) from exc
            self.close_now()  # e.g. the file was replaced: open it again next time
            raise DBAPIError.instance(plan.sql, values, exc, dbapi.Error, dialect=dialect) from exc
        except dbapi.Error as exc:
            raise DBAPIError.instance(plan.sql, values, exc, dbapi.Error, dialect=dialect) from exc
        return _processed(processors, raw)

    # PostgreSQL: awaited, with a few connections of its own.
    async def _postgres_rows(
        self, query: PreparedQuery, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        import psycopg

        dialect = self.dialect
        plan = query._plan(dialect)
        values = plan.parameters(params)
        for _ in range(2):
            connection, fresh = await self._acquire()
            try:
                async with connection.cursor() as cursor:
                    _announce(self.engine, None, cursor, plan, values)
                    await cursor.execute(plan.sql, values)
                    raw = await cursor.fetchall()
                    processors = plan.processors_for(dialect, cursor)
            except psycopg.Error as exc:
                broken = connection.closed or connection.broken
                if broken:
                    await self._discard(connection)
                else:
                    self._release(connection)
                if broken and not fresh:
                    continue  # it had been idle: a restarted server; once more, anew
                raise DBAPIError.instance(
                    plan.sql,
                    values,
                    exc,
                    psycopg.Error,
                    connection_invalidated=broken,
                    dialect=dialect,
                ) from exc
            except BaseException:  # cancelled mid-query: its state is unknown
                await self._discard(connection)
                raise
            self._release(connection)
            return _processed(processors, raw)
        raise AssertionError("unreachable")  # pragma: no cover

    def _queue(self) -> asyncio.LifoQueue[Any]:
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:
            self.close_now()  # connections of another loop cannot serve this one
            self._loop = loop
            self._idle = asyncio.LifoQueue()
        return self._idle

    async def _acquire(self) -> tuple[Any, bool]:
        import psycopg

        idle = self._queue()
        if not idle.empty():
            return idle.get_nowait(), False
        if len(self._open) < self.size:
            _cargs, cparams = self.dialect.create_connect_args(self.engine.url)
            placeholder = object()
            self._open.append(placeholder)  # counted while it connects
            try:
                connection = await psycopg.AsyncConnection.connect(
                    **{"connect_timeout": 3, **cparams}, autocommit=True, prepare_threshold=0
                )
            except psycopg.Error as exc:
                raise DBAPIError.instance(
                    None, None, exc, psycopg.Error, dialect=self.dialect
                ) from exc
            finally:
                self._open.remove(placeholder)
            self._open.append(connection)
            return connection, True
        try:
            async with asyncio.timeout(self.wait):
                return await idle.get(), False
        except TimeoutError:
            raise ReaderBusy("every loop reader connection is in use") from None

    def _release(self, connection: Any) -> None:
        if self._idle is not None and connection in self._open:
            self._idle.put_nowait(connection)

    async def _discard(self, connection: Any) -> None:
        if connection in self._open:
            self._open.remove(connection)
        with contextlib.suppress(Exception):  # it is broken already: nothing more to do
            await connection.close()

    def close_now(self) -> None:
        """Close every connection at once (no awaiting): at shutdown, or for another loop."""
        _finish_all(self._open)
        self._idle = None

    async def aclose(self) -> None:
        for connection in list(self._open):
            if hasattr(connection, "close"):
                result = connection.close()
                if asyncio.iscoroutine(result):
                    with contextlib.suppress(Exception):  # closing at shutdown
                        await result
        self._open.clear()
        self._idle = None


def _finish_all(connections: list[Any]) -> None:
    for connection in connections:
        pgconn = getattr(connection, "pgconn", None)
        try:
            if pgconn is not None:  # psycopg: end it without awaiting anything
                pgconn.finish()
            elif hasattr(connection, "close"):
                connection.close()
        except Exception:  # noqa: S110 - closing for good: nothing more to do
            pass
    connections.clear()
