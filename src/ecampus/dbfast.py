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

`LoopReader` runs such a query on the event loop itself, with no worker thread, and the hot
writes too (`LoopReader.sqlite_transaction`, `LoopReader.write`): see there.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.pool import StaticPool

from ecampus.dbretry import sqlite_writer_lock

T = TypeVar("T")
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
    # The SQL with $1, $2... and the parameters' order, for PostgreSQL's pipelined reader.
    numbered: list[tuple[bytes, tuple[str, ...]]] = field(default_factory=list)

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
    - `LoopReader.rows(query, params)`: a read on the event loop;
    - `run(transaction, params)` with a `LoopTransaction`: in SQLite's write transaction on
      the event loop; `LoopReader.write(query, params)`: a write on PostgreSQL's pipe.

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
                rows = _fetched(engine, None, cursor, plan, values)
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
            raise _driver_error(plan, values, exc, dialect, invalidated=disconnect) from exc
        finally:
            fairy.close()
        return rows

    def run(
        self, connection: Connection | LoopTransaction, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        if isinstance(connection, LoopTransaction):
            return connection.rows(self, params)
        dialect = connection.dialect
        plan = self._plan(dialect)
        values = plan.parameters(params)
        raw = connection.connection  # the pool's connection: the Connection's transaction
        cursor = raw.cursor()
        try:
            return _fetched(connection.engine, connection, cursor, plan, values)
        except dialect.loaded_dbapi.Error as exc:
            disconnect = dialect.is_disconnect(exc, raw.dbapi_connection, cursor)
            error = _driver_error(plan, values, exc, dialect, invalidated=disconnect)
            if disconnect:  # as SQLAlchemy does: this connection (and the pool) is replaced
                connection.invalidate(error)
            raise error from exc
        finally:
            cursor.close()


def _fetched(
    engine: Engine, connection: Connection | None, cursor: Any, plan: _Plan, values: Any
) -> list[tuple[Any, ...]]:
    """The statement run on the cursor, its rows processed (none for a write that returns
    none)."""
    _announce(engine, connection, cursor, plan, values)
    cursor.execute(plan.sql, values)
    if cursor.description is None:
        return []
    rows = cursor.fetchall()
    return _processed(plan.processors_for(engine.dialect, cursor), rows)


def _driver_error(
    plan: _Plan, values: Any, exc: Exception, dialect: Dialect, *, invalidated: bool = False
) -> StatementError:
    """A driver's error as SQLAlchemy's own (DBAPIError.instance): the app's 503 handling
    and tests see the same exceptions whichever way the statement ran."""
    return DBAPIError.instance(
        plan.sql,
        values,
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=invalidated,
        dialect=dialect,
    )


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


class LoopTransaction:
    """SQLite's write transaction on the event loop (LoopReader.sqlite_transaction):
    `PreparedQuery.run(transaction, params)` runs the statement in it."""

    __slots__ = ("connection", "engine")

    def __init__(self, engine: Engine, connection: Any) -> None:
        self.engine = engine
        self.connection = connection

    def rows(self, query: PreparedQuery, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        dialect = self.engine.dialect
        plan = query._plan(dialect)
        values = plan.parameters(params)
        cursor = self.connection.cursor()
        try:
            return _fetched(self.engine, None, cursor, plan, values)
        except dialect.loaded_dbapi.Error as exc:
            raise _driver_error(plan, values, exc, dialect) from exc
        finally:
            cursor.close()


class _LoopReading(LoopTransaction):
    """The loop reader's SQLite connection as a LoopTransaction (LoopReader.sqlite_reading):
    its reads go through LoopReader._sqlite_rows (ReaderBusy when SQLite says busy, the
    connection opened again after any other error)."""

    __slots__ = ("reader",)

    def __init__(self, reader: LoopReader) -> None:
        super().__init__(reader.engine, None)
        self.reader = reader

    def rows(self, query: PreparedQuery, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return self.reader._sqlite_rows(query, params)


@dataclass(eq=False)
class _QueuedWrite:
    """A write waiting for SQLite's write lock (LoopReader.sqlite_write)."""

    write: Callable[[LoopTransaction], Any]
    future: asyncio.Future[Any]
    deadline: float  # the loop's time after which it is left to the caller (ReaderBusy)


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
    - **PostgreSQL**: a few connections of its own (`connections`, 2 by default, besides the
      pool's) in libpq's pipeline mode (`_Pipe`), each read by one reader the loop keeps:
      the reads of requests waiting at the same moment go down one connection together,
      each still its own statement. Reads go to the first connection; another is opened
      when it is held up by a read slower than `wait` (or has `DEPTH` reads waiting), and
      reads queued behind such a slow one get ReaderBusy. A connection found broken is
      dropped; a read it had in flight is tried once more on a new one if that connection
      had answered before (a database restart costs no request).
    - Anything else (in-memory SQLite, whose single connection the pool shares) is not
      `available`: callers use a worker thread.

    Errors are SQLAlchemy's (DBAPIError.instance), as from PreparedQuery, so the app's 503
    handling is unchanged. Connections follow the running loop: on another loop (tests
    start one per client) the old ones are closed and new ones opened.
    """

    DEPTH = 128  # reads waiting on one pipe before another is opened for more

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
        self._reader: Any = None  # SQLite's: read-only
        self._writer: Any = None  # SQLite's: for the write transactions on the loop
        self._connecting: asyncio.Task[_Pipe] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # SQLite: the writes waiting for the write lock (sqlite_write), and their loop.
        self._queued: list[_QueuedWrite] = []
        self._queue_loop: asyncio.AbstractEventLoop | None = None
        self._flushing: asyncio.TimerHandle | None = None
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
        if self._reader is not None:
            return self._reader
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
        self._reader = connection
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
                return _fetched(self.engine, None, cursor, plan, values)
            finally:
                cursor.close()
        except dbapi.OperationalError as exc:
            message = str(exc).lower()
            if "locked" in message or "busy" in message:
                raise ReaderBusy(str(exc)) from exc
            self.close_now()  # e.g. the file was replaced: open it again next time
            raise _driver_error(plan, values, exc, dialect) from exc
        except dbapi.Error as exc:
            raise _driver_error(plan, values, exc, dialect) from exc

    # SQLite's writes: a plain call too, under the process's writer lock.
    def _sqlite_writer(self) -> Any:
        if self._writer is not None:
            return self._writer
        # A connection made by the engine's pool, with its settings (WAL, foreign keys, the
        # functions it registers), then taken out of the pool for good.
        fairy = self.engine.raw_connection()
        connection: Any = fairy.dbapi_connection
        fairy.detach()
        try:
            connection.isolation_level = None  # BEGIN and COMMIT are said here, not guessed
            connection.execute("PRAGMA busy_timeout=0")  # the loop never sleeps in SQLite
        except Exception:
            connection.close()
            raise
        self._open.append(connection)
        self._writer = connection
        return connection

    def sqlite_reading(self) -> LoopTransaction:
        """SQLite: the loop's read-only connection, for `PreparedQuery.run` (a read before
        a write transaction: it never waits, and holds no lock), read as `rows` reads."""
        if not self._sqlite:
            raise ReaderBusy("no loop reader for this database")
        return _LoopReading(self)

    @contextlib.contextmanager
    def sqlite_transaction(self) -> Iterator[LoopTransaction]:
        """SQLite: one write transaction on the event loop, on a connection of this
        process's own, run start to end between two awaits (so no other request of this
        process sees it half done): committed when the block ends, rolled back if it
        raises. ReaderBusy, before anything is written, when a worker thread of this
        process holds its writer lock (dbretry.writer_lock) or another process the
        database's (SQLite's busy timeout is 0 here: the loop never sleeps in SQLite); the
        caller may try again after an `await asyncio.sleep`, or write in a worker thread,
        where waiting is harmless.

        Its statements hold SQLite's write lock for their own time only: measured
        in-process, a quiz attempt written from a worker thread held the lock through the
        thread's turns at the GIL (and the event loop's work meanwhile), which bounded a
        worker's writes per second."""
        if not self._sqlite:
            raise ReaderBusy("no loop writer for this database")
        lock = sqlite_writer_lock(self.engine)
        if not lock.acquire(blocking=False):
            raise ReaderBusy("a worker thread is writing")
        try:
            dialect = self.dialect
            dbapi = dialect.loaded_dbapi
            try:
                connection = self._sqlite_writer()
                connection.execute("BEGIN IMMEDIATE")
            except dbapi.OperationalError as exc:
                message = str(exc).lower()
                if "locked" in message or "busy" in message:
                    raise ReaderBusy(str(exc)) from exc
                self.close_now()  # e.g. the file was replaced: open it again next time
                raise DBAPIError.instance(None, None, exc, dbapi.Error, dialect=dialect) from exc
            try:
                yield LoopTransaction(self.engine, connection)
                try:
                    connection.execute("COMMIT")
                except dbapi.Error as exc:
                    raise DBAPIError.instance(
                        "COMMIT", None, exc, dbapi.Error, dialect=dialect
                    ) from exc
            except BaseException:
                if connection.in_transaction:
                    with contextlib.suppress(Exception):  # the error raised says what happened
                        connection.execute("ROLLBACK")
                raise
        finally:
            lock.release()

    # SQLite: how the loop waits for the write lock another process (or a worker thread of
    # this one) holds: it looks again after these pauses (then the last one again), with
    # jitter so that two processes do not keep colliding.
    WRITE_PAUSES = (0.0, 0.0005, 0.001, 0.002)

    async def sqlite_write(self, write: Callable[[LoopTransaction], T], *, patience: float) -> T:
        """SQLite: `write` in a write transaction on the event loop (sqlite_transaction), at
        once when it can be; otherwise queued, and written with every other write queued in
        this process in one transaction as soon as the lock is free ("group commit"), each
        in a savepoint of its own: one write's failure undoes only its own statements, and
        its caller gets the error. ReaderBusy, with nothing written, when the lock stayed
        taken for `patience` seconds (the caller may write in a worker thread instead).

        Why a queue: measured with two workers at 64 connections (bench/suite.py), a write
        that met the lock taken and tried again after `asyncio.sleep` waited 0.5-2 ms for
        the lock but a whole turn of a busy event loop to run again, each time, reading and
        grading again too: the 1 % slowest quiz attempts waited 53-72 ms for 3 tries. The
        queue's writes are run by one callback as soon as the lock is taken, already
        computed, and one lock taken writes them all."""
        loop = asyncio.get_running_loop()
        if not self._queued:
            try:
                with self.sqlite_transaction() as transaction:
                    return write(transaction)
            except ReaderBusy:
                pass  # nothing written: queued below
        elif self._queue_loop is not loop:  # writes queued on another loop cannot be run here
            self._abandon_queue(ReaderBusy("the event loop changed"))
        self._queue_loop = loop
        queued = _QueuedWrite(write, loop.create_future(), loop.time() + patience)
        self._queued.append(queued)
        if self._flushing is None:
            self._flush_later(loop, 0)
        return await queued.future

    def _flush_later(self, loop: asyncio.AbstractEventLoop, tries: int) -> None:
        pauses = self.WRITE_PAUSES
        pause = pauses[min(tries, len(pauses) - 1)] * random.uniform(0.5, 1.5)  # noqa: S311 (jitter)
        self._flushing = loop.call_later(pause, self._flush, loop, tries)

    def _flush(self, loop: asyncio.AbstractEventLoop, tries: int) -> None:
        """Write every queued write whose caller still waits, in one transaction."""
        self._flushing = None
        now = loop.time()
        waiting: list[_QueuedWrite] = []
        for queued in self._queued:
            if queued.future.done():
                continue  # its request was cancelled: never written
            if now > queued.deadline:
                queued.future.set_exception(ReaderBusy("the database stayed locked"))
                continue
            waiting.append(queued)
        self._queued = waiting
        if not waiting:
            return
        outcomes: list[tuple[_QueuedWrite, Any, BaseException | None]] = []
        try:
            with self.sqlite_transaction() as transaction:
                connection = transaction.connection
                for queued in waiting:
                    connection.execute("SAVEPOINT ecampus_write")
                    try:
                        result = queued.write(transaction)
                    except Exception as exc:  # this write's own failure: only it is undone
                        connection.execute("ROLLBACK TO ecampus_write")
                        connection.execute("RELEASE ecampus_write")
                        outcomes.append((queued, None, exc))
                    else:
                        connection.execute("RELEASE ecampus_write")
                        outcomes.append((queued, result, None))
        except ReaderBusy:
            self._flush_later(loop, tries + 1)  # nothing written: they wait on
            return
        except Exception as exc:  # the transaction failed (COMMIT, the disk): nothing written
            self._queued = []
            for queued in waiting:
                if not queued.future.done():
                    queued.future.set_exception(exc)
            return
        self._queued = []
        for queued, result, error in outcomes:
            if queued.future.done():
                continue  # pragma: no cover - nothing awaits between the write and here
            if error is not None:
                queued.future.set_exception(error)
            else:
                queued.future.set_result(result)

    def _abandon_queue(self, error: Exception) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        queued, self._queued = self._queued, []
        for entry in queued:
            if not entry.future.done() and not entry.future.get_loop().is_closed():
                entry.future.set_exception(error)

    async def write(
        self, query: PreparedQuery, params: Mapping[str, Any], *, order: int = 0
    ) -> list[tuple[Any, ...]]:
        """PostgreSQL: a statement that writes, on the loop's pipelined connection, in a
        batch of writes only (those of one turn of the event loop, `_Pipe`), committed
        together once PostgreSQL has answered its Sync: no read's failure can roll it
        back, and when another write of its batch fails, it is sent again alone (the
        batch's transaction was rolled back: nothing of it was written). It is never given
        up on: ReaderBusy only before it is sent (every pipe held up), and a connection lost
        meanwhile is an error, as it would be in a worker thread (whether it was committed
        is unknown: sending it again could write it twice).

        `order`: the batch's writes are sent in this order (then by statement), so that the
        batches of two processes lock the rows they share in the same order and cannot
        deadlock: the learner's id, whose rows each write locks. Measured: unordered, two
        workers' batches holding the same two learners' writes in opposite orders
        deadlocked, and PostgreSQL's deadlock_timeout (1 s) held up every read and write
        of both pipes behind them: quiz p99 962 ms."""
        if not self._postgres:
            raise ReaderBusy("no loop writer for this database")
        return await self._postgres_rows(query, params, write=True, order=order)

    # PostgreSQL: awaited, on a few pipelined connections of its own (_Pipe).
    async def _postgres_rows(
        self,
        query: PreparedQuery,
        params: Mapping[str, Any],
        *,
        write: bool = False,
        order: int = 0,
    ) -> list[tuple[Any, ...]]:
        """`write`: in a batch of writes, never sent twice unless it was rolled back (see
        `write`)."""
        import psycopg

        dialect = self.dialect
        plan = query._plan(dialect)
        values = plan.parameters(params)
        assert isinstance(values, dict)  # psycopg's paramstyle is by name: %(name)s
        sql, names = _numbered(plan)
        for _ in range(1 if write else 2):
            pipe = await self._pipe()
            served = pipe.served
            _announce(self.engine, None, None, plan, values)
            try:
                raw, described = await pipe.rows(
                    sql, [values[name] for name in names], alone=write, order=order
                )
            except psycopg.Error as exc:
                broken = pipe.broken is not None
                if broken and served and not write:
                    continue  # it had served before: a restarted server; once more, anew
                raise _driver_error(plan, values, exc, dialect, invalidated=broken) from exc
            if described is None:  # a write that returns no rows
                return []
            return _processed(plan.processors_for(dialect, described), raw)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _pipe(self) -> _Pipe:
        """The first open pipe not held up by a slow read (the fewer pipes in use, the more
        reads share each round trip: measured in-process, one pipe cost less CPU a request
        than two used in turn), a new one when every open pipe is held up or has
        `DEPTH` reads waiting and there are fewer than `size`, else the least busy one not
        held up; ReaderBusy when every one has been held up for longer than `wait`."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.close_now()  # connections of another loop cannot serve this one
            self._loop = loop
        now = loop.time()
        spare: _Pipe | None = None
        for pipe in self._open:
            if not isinstance(pipe, _Pipe) or pipe.stalled(now):
                continue
            if len(pipe.waiting) < self.DEPTH:
                return pipe
            if spare is None or len(pipe.waiting) < len(spare.waiting):
                spare = pipe
        if len(self._open) < self.size:
            if self._connecting is None:
                self._connecting = loop.create_task(self._connect())
                self._connecting.add_done_callback(forget_outcome)
            if spare is None:
                return await asyncio.shield(self._connecting)
        if spare is not None:
            return spare
        raise ReaderBusy("every loop reader connection is held up by a slow read")

    async def _connect(self) -> _Pipe:
        import psycopg

        _cargs, cparams = self.dialect.create_connect_args(self.engine.url)
        placeholder = object()
        self._open.append(placeholder)  # counted while it connects
        try:
            connection = await psycopg.AsyncConnection.connect(
                **{"connect_timeout": 3, **cparams}, autocommit=True
            )
            pipe = _Pipe(connection, asyncio.get_running_loop(), self.wait, self._gone)
        except psycopg.Error as exc:
            raise DBAPIError.instance(None, None, exc, psycopg.Error, dialect=self.dialect) from exc
        finally:
            self._open.remove(placeholder)
            self._connecting = None
        self._open.append(pipe)
        return pipe

    def _gone(self, pipe: _Pipe) -> None:
        if pipe in self._open:
            self._open.remove(pipe)

    def close_now(self) -> None:
        """Close every connection at once (no awaiting): at shutdown, or for another loop."""
        self._abandon_queue(ReaderBusy("the loop reader is closed"))
        _finish_all(self._open)
        self._connecting = None
        self._reader = self._writer = None

    async def aclose(self) -> None:
        self.close_now()


def _finish_all(connections: list[Any]) -> None:
    # Pipes (PostgreSQL), SQLite's connection, and placeholders for pipes still connecting.
    for connection in list(connections):
        try:
            if hasattr(connection, "close"):
                connection.close()
        except Exception:  # noqa: S110 - closing for good: nothing more to do
            pass
    connections.clear()


def forget_outcome(task: asyncio.Future[Any]) -> None:
    """A done-callback for a task whose failure nobody may await (a connection attempt
    whose read went to an open pipe, a read whose page no longer needs it): its error is
    retrieved, not logged by asyncio as never retrieved."""
    if not task.cancelled():
        task.exception()


_PLACEHOLDER = re.compile(r"%%|%\(([^)]+)\)s")


def _numbered(plan: _Plan) -> tuple[bytes, tuple[str, ...]]:
    """The plan's SQL with PostgreSQL's own placeholders ($1, $2...) for libpq, and the
    parameters' names in their order (SQLAlchemy compiles for psycopg's `%(name)s`)."""
    if plan.numbered:
        return plan.numbered[0]
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"  # a literal percent sign, doubled for psycopg
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    done = (_PLACEHOLDER.sub(number, plan.sql).encode(), tuple(order))
    plan.numbered.append(done)
    return done


def _lock_order(pending: _Pending) -> tuple[int, bytes]:
    return pending.order, pending.sql


@dataclass(eq=False)
class _Pending:
    """A read sent down a pipe, until its batch's Sync has been answered."""

    future: asyncio.Future[Any]
    sql: bytes
    params: Sequence[Any] | None
    types: tuple[int, ...]
    formats: Any
    expect: int = 1  # results still to come: 2 while its statement is being prepared
    new_statement: tuple[bytes, tuple[int, ...]] | None = None  # prepared by this read
    prepared: bool = False
    rows: list[tuple[Any, ...]] | None = None
    described: Any = None
    error: Exception | None = None
    aborted: bool = False  # skipped: another read of its batch failed first
    resent: bool = False
    alone: bool = False  # a write: in a batch of writes, never sent twice or given up on
    order: int = 0  # a write: its place in its batch (LoopReader.write)


class _Sync:
    """Where a batch ends: PostgreSQL answers PIPELINE_SYNC once it has run the batch."""

    __slots__ = ("batch",)

    def __init__(self, batch: list[_Pending]) -> None:
        self.batch = batch


class _Described:
    """What PreparedQuery's result processors read of a cursor: its columns' type codes
    (read only the first time a plan's rows come, so only then made)."""

    __slots__ = ("result",)

    def __init__(self, result: Any) -> None:
        self.result = result

    @property
    def description(self) -> list[tuple[None, int]]:
        return [(None, self.result.ftype(i)) for i in range(self.result.nfields)]


class _Pipe:
    """One PostgreSQL connection in libpq's pipeline mode, read by one reader the event loop
    keeps for it: the reads of requests waiting at the same moment share its round trips.

    psycopg's own async cursor registers a reader with the loop and removes it again for
    every query, and waits on each one alone. A micro-benchmark on this project's 2 cores
    (10,000 one-row reads, 16 at a time, uvloop): 143-193 µs of the client's CPU per read
    that way against 35 µs here (both with 16 µs of the benchmark's own task handling), and
    PostgreSQL's backend 63 µs a read against 24.

    Each read is its own statement, prepared once per connection (by SQL and parameter
    types, as psycopg does). The reads sent during one turn of the event loop form a batch
    that ends with one Sync, sent (with one system call) when the turn is over: the batch
    runs in one implicit transaction, as autocommit reads would one by one (each statement
    sees what was committed before it started). If a read fails, the server skips the rest
    of its batch: those reads are sent once more, in a batch of their own.

    The writes of one turn (LoopReader.write) form a batch of their own after the reads',
    so one transaction and one commit: PostgreSQL waits for the disk once for all of them
    ("group commit"). Measured with two workers at 64 connections (bench/suite.py), each
    write in a batch of its own: the backends spent most of their time in WALSync or
    waiting for WALWrite (pg_stat_activity sampled every 10 ms: 0.8 and 0.6 backends on
    average), and quiz submissions were fewer with two workers than with one. When a
    statement of a batch of writes fails, PostgreSQL rolls the whole batch back: the
    failed write gets its error, and every other write of the batch is sent again alone.
    Parameters are
    dumped and rows loaded by psycopg's own adapters (psycopg.adapt.Transformer), so values
    come out exactly as from a psycopg cursor."""

    MAX_STATEMENTS = 200  # beyond that, unnamed statements (never seen: a dozen are used)

    def __init__(
        self,
        connection: Any,
        loop: asyncio.AbstractEventLoop,
        wait: float,
        gone: Callable[[_Pipe], None],
    ) -> None:
        from psycopg.adapt import Transformer

        self.connection = connection
        self.pgconn = connection.pgconn
        self.loop = loop
        self.wait = wait
        self._gone = gone
        self.transformer = Transformer(connection)
        self.statements: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
        self.waiting: dict[_Pending, None] = {}  # reads not answered yet, oldest first
        self.sent: deque[_Pending | _Sync] = deque()  # what the server will answer, in order
        self.batch: list[_Pending] = []  # sent since the last Sync
        self.writes: list[_Pending] = []  # writes of this turn, sent after its reads
        self.progress = loop.time()  # when a read was last answered (or the first sent)
        self.served = 0
        self.broken: Exception | None = None
        self._watching = False
        self._syncing = False
        self.fd = self.pgconn.socket
        self.encrypted = bool(self.pgconn.ssl_in_use)
        self.pgconn.nonblocking = 1
        self.pgconn.enter_pipeline_mode()
        loop.add_reader(self.fd, self._readable)

    def stalled(self, now: float) -> bool:
        """Reads are waiting and none has been answered for longer than `wait`."""
        return bool(self.waiting) and now - self.progress > self.wait

    async def rows(
        self, sql: bytes, values: list[Any], *, alone: bool = False, order: int = 0
    ) -> tuple[list[tuple[Any, ...]], Any]:
        """The statement's rows and description; `alone`: a write (LoopReader.write), in the
        turn's batch of writes, sent in `order`."""
        from psycopg.adapt import PyFormat

        if self.broken is not None:
            raise self.broken
        tx = self.transformer
        params = tx.dump_sequence(values, [PyFormat.AUTO] * len(values)) if values else None
        types = tuple(tx.types or ()) if values else ()
        formats = tx.formats if values else None
        pending = _Pending(
            self.loop.create_future(), sql, params, types, formats, alone=alone, order=order
        )
        if alone:
            self.writes.append(pending)  # sent when the turn is over, after the reads' batch
        else:
            try:
                self._send(pending)
            except Exception as exc:  # the connection failed under it
                raise self._break(exc) from exc
        if not self._syncing:  # the turn's batches end (and go) when the turn is over
            self._syncing = True
            self.loop.call_soon(self._sync)
        if not self.waiting:
            self.progress = self.loop.time()
        self.waiting[pending] = None
        if len(self.waiting) > 1 and not self._watching:
            self._watching = True
            self.loop.call_later(self.wait / 2, self._watch)
        return await pending.future

    def _send(self, pending: _Pending) -> None:
        from psycopg import pq

        pgconn = self.pgconn
        key = (pending.sql, pending.types)
        name = self.statements.get(key)
        if name is None and len(self.statements) < self.MAX_STATEMENTS:
            name = self.statements[key] = b"_ecampus_%d" % len(self.statements)
            pending.new_statement = key
            pending.expect = 2
            pgconn.send_prepare(name, pending.sql, param_types=pending.types)
        if name is None:
            pgconn.send_query_params(
                pending.sql, pending.params, param_types=pending.types,
                param_formats=pending.formats, result_format=pq.Format.TEXT,
            )  # fmt: skip
        else:
            pgconn.send_query_prepared(
                name, pending.params, param_formats=pending.formats, result_format=pq.Format.TEXT
            )
        self.sent.append(pending)
        self.batch.append(pending)

    def _sync(self) -> None:
        """End the turn's batch of reads, then send its writes as a batch of their own."""
        self._syncing = False
        if self.broken is not None:
            return
        writes, self.writes = self.writes, []
        writes.sort(key=_lock_order)  # every process's batches lock shared rows alike
        try:
            self._end_batch()
            for pending in writes:
                self._send(pending)
            self._end_batch()
            if self.pgconn.flush():  # the socket's buffer is full: the rest when it is writable
                self.loop.add_writer(self.fd, self._writable)
        except Exception as exc:
            self._break(exc)

    def _end_batch(self) -> None:
        if self.batch:
            batch, self.batch = self.batch, []
            self.pgconn.pipeline_sync()
            self.sent.append(_Sync(batch))

    def _writable(self) -> None:
        try:
            if not self.pgconn.flush():
                self.loop.remove_writer(self.fd)
        except Exception as exc:
            self._break(exc)

    def _readable(self) -> None:
        from psycopg import pq

        pgconn = self.pgconn
        try:
            # Over TLS, part of a record read from the socket may stay decrypted inside
            # OpenSSL, where the event loop cannot see it (the socket is not readable
            # again): while answers are still awaited, read once more, which takes it.
            for _ in range(2 if self.encrypted else 1):
                pgconn.consume_input()
                self._results()
                if not (self.sent and pgconn.is_busy()):
                    break
            if pgconn.status != pq.ConnStatus.OK:
                raise pgconn_error(pgconn)
        except Exception as exc:
            self._break(exc)

    def _results(self) -> None:
        """Hand the results libpq has whole to the reads they answer, in order."""
        from psycopg import pq
        from psycopg.errors import error_from_result

        pgconn = self.pgconn
        nothing = 0
        while self.sent and not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:  # between one statement's results and the next
                nothing += 1
                if nothing > 1:
                    break
                continue
            nothing = 0
            status = result.status
            head = self.sent[0]
            if isinstance(head, _Sync):
                if status != pq.ExecStatus.PIPELINE_SYNC:
                    raise pgconn_error(pgconn, "PostgreSQL answered out of order")
                self.sent.popleft()
                self.progress = self.loop.time()
                # One failed statement rolls back the whole batch's transaction.
                failed = any(p.error is not None or p.aborted for p in head.batch)
                for pending in head.batch:
                    self._settle(pending, failed)
                continue
            if status == pq.ExecStatus.COMMAND_OK and head.expect == 2:
                head.prepared = True
            elif status == pq.ExecStatus.TUPLES_OK:
                tx = self.transformer
                tx.set_pgresult(result)
                head.rows = tx.load_rows(0, result.ntuples, tuple)
                head.described = _Described(result)
            elif status == pq.ExecStatus.FATAL_ERROR and head.error is None:
                head.error = error_from_result(result, encoding=self.transformer.encoding)
            elif status == pq.ExecStatus.PIPELINE_ABORTED:
                head.aborted = True
            head.expect -= 1
            if head.expect <= 0:
                self.sent.popleft()

    def _settle(self, pending: _Pending, failed: bool) -> None:
        """`failed`: a statement of its batch failed, which rolled the batch back."""
        if pending.new_statement is not None and not pending.prepared:
            self.statements.pop(pending.new_statement, None)  # not prepared after all
        future = pending.future
        if future.done() and not pending.alone:  # given up on (a cancelled request...)
            self.waiting.pop(pending, None)
            return
        # A read skipped, or a write rolled back with the rest of its batch.
        again = pending.aborted or (failed and pending.alone)
        if pending.error is None and again and not pending.resent:
            # Once more, in a batch of its own: nothing else can make it fail again.
            pending.resent = True
            pending.aborted = False
            pending.expect = 1
            pending.rows = pending.described = None
            pending.new_statement = None
            pending.prepared = False
            self._end_batch()
            self._send(pending)
            self._end_batch()
            if self.pgconn.flush():
                self.loop.add_writer(self.fd, self._writable)
            return
        if future.done():  # a write whose request was cancelled: written all the same
            self.waiting.pop(pending, None)
            return
        self.waiting.pop(pending, None)
        self.served += 1
        if pending.error is not None:
            future.set_exception(pending.error)
        elif pending.aborted:  # pragma: no cover - skipped twice: say so, do not guess
            future.set_exception(pgconn_error(self.pgconn, "the statement was skipped"))
        else:
            future.set_result((pending.rows or [], pending.described))

    def _watch(self) -> None:
        """Reads queued behind one that has taken longer than `wait` go to a worker thread
        instead (ReaderBusy): their answers, when they come, are dropped."""
        self._watching = False
        if self.broken is not None or len(self.waiting) < 2:
            return
        if self.stalled(self.loop.time()):
            for pending in list(self.waiting)[1:]:
                if not pending.future.done() and not pending.alone:  # a write is awaited
                    pending.future.set_exception(ReaderBusy("held up behind a slow read"))
        self._watching = True
        self.loop.call_later(self.wait / 2, self._watch)

    def _break(self, exc: Exception) -> Exception:
        """The connection failed: every read waiting on it fails (their callers may read
        again elsewhere), and it is closed."""
        import psycopg

        if self.broken is None:
            error = exc if isinstance(exc, psycopg.Error) else psycopg.OperationalError(str(exc))
            self.broken = error
        broken = self.broken
        self.close()
        return broken

    def close(self) -> None:
        self._gone(self)
        with contextlib.suppress(Exception):  # the loop may be closed already
            self.loop.remove_reader(self.fd)
            self.loop.remove_writer(self.fd)
        with contextlib.suppress(Exception):  # closing for good: nothing more to do
            self.pgconn.finish()
        if self.broken is None:
            import psycopg

            self.broken = psycopg.OperationalError("the connection is closed")
        waiting = list(self.waiting)
        self.waiting.clear()
        self.sent.clear()
        self.batch = []
        self.writes = []
        for pending in waiting:
            if not pending.future.done():
                pending.future.set_exception(self.broken)


def pgconn_error(pgconn: Any, message: str = "") -> Exception:
    import psycopg

    told = pgconn.error_message.decode("utf-8", "replace").strip()
    return psycopg.OperationalError(message or told or "the connection to PostgreSQL was lost")
