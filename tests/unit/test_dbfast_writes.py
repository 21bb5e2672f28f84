"""LoopReader's writes on the event loop: SQLite's transaction of this process's own, which
never waits for a lock (ReaderBusy, nothing written), and the queue of writes that met it
taken, written together once it is free; PostgreSQL's writes on the pipe, in a batch of
writes only, so that no read's failure can undo them, one transaction for the writes of one
turn of the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Float, Integer, bindparam, column, func, literal, select, table
from sqlalchemy.exc import DBAPIError, IntegrityError

from ecampus.accounts.models import User, UserSession
from ecampus.db import make_engine, metadata
from ecampus.dbfast import LoopReader, PreparedQuery, ReaderBusy
from ecampus.dbretry import sqlite_writer_lock
from tests.aio import run

_users = User.__table__  # type: ignore[attr-defined]
_sessions = UserSession.__table__  # type: ignore[attr-defined]

ADD_USER = PreparedQuery(
    _users.insert()
    .values(
        email=bindparam("email"),
        password_hash="x",
        full_name=bindparam("name"),
        institution="",
        institution_type="other",
        country="",
        language="es",
        role="learner",
        is_active=True,
        session_version=0,
        created_at=bindparam("now", type_=_users.c.created_at.type),
    )
    .returning(_users.c.id)
)
USER_IDS = PreparedQuery(select(_users.c.id).order_by(_users.c.id))
ADD_SESSION = PreparedQuery(
    _sessions.insert().values(
        id=bindparam("id"),
        user_id=bindparam("user_id"),
        version=0,
        created_at=bindparam("ends", type_=_sessions.c.created_at.type),
        expires_at=bindparam("ends", type_=_sessions.c.expires_at.type),
    )
)


def user(n: int) -> dict[str, Any]:
    return {"email": f"w{n}@example.org", "name": f"Writer {n}", "now": datetime.now(UTC)}


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[tuple[Engine, LoopReader, Path]]:
    path = tmp_path / "writes.db"
    engine = make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    reader = LoopReader(engine)
    try:
        yield engine, reader, path
    finally:
        reader.close_now()
        engine.dispose()


def test_a_sqlite_transaction_on_the_loop_commits_whole_or_not_at_all(
    sqlite_file: tuple[Engine, LoopReader, Path],
) -> None:
    engine, reader, _path = sqlite_file
    with reader.sqlite_transaction() as transaction:
        (first,) = ADD_USER.run(transaction, user(1))
        ADD_USER.run(transaction, user(2))
        # Its own writes are seen inside it.
        assert [row[0] for row in USER_IDS.run(transaction, {})] == [first[0], first[0] + 1]

    def fails_after_a_write() -> None:
        with reader.sqlite_transaction() as transaction:
            ADD_USER.run(transaction, user(3))
            raise RuntimeError("the unit fails after a write")

    def writes_a_duplicate() -> None:
        with reader.sqlite_transaction() as transaction:
            ADD_USER.run(transaction, user(4))
            ADD_USER.run(transaction, user(1))  # the same email: as SQLAlchemy raises it

    def breaks_a_foreign_key() -> None:
        with reader.sqlite_transaction() as transaction:
            ends = datetime.now(UTC) + timedelta(days=1)
            ADD_SESSION.run(transaction, {"id": "s", "user_id": 999, "ends": ends})

    with pytest.raises(RuntimeError):
        fails_after_a_write()
    with pytest.raises(IntegrityError):
        writes_a_duplicate()
    with engine.connect() as connection:
        emails = [r[0] for r in connection.execute(select(_users.c.email).order_by(_users.c.id))]
    assert emails == ["w1@example.org", "w2@example.org"]
    # The pool's own settings hold on the loop's connection: foreign keys are enforced.
    with pytest.raises(IntegrityError):
        breaks_a_foreign_key()


def test_the_loop_never_waits_for_another_processes_sqlite_write_lock(
    sqlite_file: tuple[Engine, LoopReader, Path],
) -> None:
    engine, reader, path = sqlite_file
    other = sqlite3.connect(path, isolation_level=None)  # as another app process
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        with pytest.raises(ReaderBusy), reader.sqlite_transaction() as transaction:
            ADD_USER.run(transaction, user(1))  # pragma: no cover - never reached
        assert time.perf_counter() - started < 0.2
        other.execute("ROLLBACK")
        with reader.sqlite_transaction() as transaction:
            ADD_USER.run(transaction, user(1))
        assert len(USER_IDS.rows(engine, {})) == 1
    finally:
        other.close()


def test_the_loop_never_waits_for_a_worker_threads_write(
    sqlite_file: tuple[Engine, LoopReader, Path],
) -> None:
    engine, reader, _path = sqlite_file
    taken, release = threading.Event(), threading.Event()

    def writer_thread() -> None:
        with sqlite_writer_lock(engine):
            taken.set()
            release.wait(5)

    thread = threading.Thread(target=writer_thread)
    thread.start()
    try:
        assert taken.wait(5)
        with pytest.raises(ReaderBusy), reader.sqlite_transaction():
            pass  # pragma: no cover - never reached
    finally:
        release.set()
        thread.join()
    with reader.sqlite_transaction() as transaction:
        ADD_USER.run(transaction, user(1))
    assert len(USER_IDS.rows(engine, {})) == 1
    # The loop's transaction holds the same lock while it runs: a thread waits for it.
    with reader.sqlite_transaction():
        lock = sqlite_writer_lock(engine)
        got: list[bool] = []
        probe = threading.Thread(target=lambda: got.append(lock.acquire(blocking=False)))
        probe.start()
        probe.join()
        assert got == [False]


@pytest.fixture
def locked(sqlite_file: tuple[Engine, LoopReader, Path]) -> Iterator[sqlite3.Connection]:
    """Another app process (or the CLI) holding the database's write lock until the test
    says ROLLBACK on the connection given."""
    other = sqlite3.connect(sqlite_file[2], isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.close()


def add(n: int) -> Any:
    def write(transaction: Any) -> int:
        (row,) = ADD_USER.run(transaction, user(n))
        return int(row[0])

    return write


def test_writes_meeting_the_lock_taken_are_queued_and_committed_together(
    sqlite_file: tuple[Engine, LoopReader, Path], locked: sqlite3.Connection
) -> None:
    engine, reader, _path = sqlite_file
    said: list[str] = []
    reader._sqlite_writer().set_trace_callback(said.append)

    def fails(transaction: Any) -> None:
        ADD_USER.run(transaction, user(9))
        raise RuntimeError("this write's own failure")

    async def scenario() -> list[Any]:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, locked.execute, "ROLLBACK")
        started = loop.time()
        writes = [
            reader.sqlite_write(add(1), patience=5),
            reader.sqlite_write(fails, patience=5),
            reader.sqlite_write(add(2), patience=5),
            reader.sqlite_write(add(1), patience=5),  # a duplicate email: fails alone
        ]
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
        assert 0.04 < loop.time() - started < 1
        # The queue is empty again: the next write is written at once.
        outcomes.append(await reader.sqlite_write(add(3), patience=5))
        return outcomes

    first, failed, second, duplicate, third = run(scenario())
    assert isinstance(failed, RuntimeError)
    assert isinstance(duplicate, IntegrityError)
    # The four queued writes took the lock once: one COMMIT for them, one for the next.
    assert said.count("COMMIT") == 2
    assert said.count("ROLLBACK TO ecampus_write") == 2
    assert [first, second, third] == [row[0] for row in USER_IDS.rows(engine, {})]
    assert emails(engine) == ["w1@example.org", "w2@example.org", "w3@example.org"]


def test_a_queued_write_waits_its_patience_at_most_and_a_cancelled_one_is_never_written(
    sqlite_file: tuple[Engine, LoopReader, Path], locked: sqlite3.Connection
) -> None:
    engine, reader, _path = sqlite_file

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ReaderBusy):
            await reader.sqlite_write(add(1), patience=0.05)
        assert 0.05 <= loop.time() - started < 0.5
        cancelled = asyncio.ensure_future(reader.sqlite_write(add(2), patience=5))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        waits = asyncio.ensure_future(reader.sqlite_write(add(3), patience=5))
        await asyncio.sleep(0.01)
        locked.execute("ROLLBACK")
        assert await waits > 0
        assert cancelled.cancelled()

    run(scenario())
    assert emails(engine) == ["w3@example.org"]


def test_a_queued_write_waits_for_a_worker_threads_write_too(
    sqlite_file: tuple[Engine, LoopReader, Path],
) -> None:
    engine, reader, _path = sqlite_file
    lock = sqlite_writer_lock(engine)
    release = threading.Event()

    def writer_thread() -> None:
        with lock:
            release.wait(5)

    async def scenario() -> int:
        thread = threading.Thread(target=writer_thread)
        thread.start()
        await asyncio.sleep(0.02)
        asyncio.get_running_loop().call_later(0.05, release.set)
        try:
            return await reader.sqlite_write(add(1), patience=5)
        finally:
            thread.join()

    assert run(scenario()) > 0
    assert emails(engine) == ["w1@example.org"]


def test_closing_the_reader_fails_its_queued_writes_unwritten(
    sqlite_file: tuple[Engine, LoopReader, Path], locked: sqlite3.Connection
) -> None:
    engine, reader, _path = sqlite_file

    async def scenario() -> None:
        waits = asyncio.ensure_future(reader.sqlite_write(add(1), patience=5))
        await asyncio.sleep(0.01)
        reader.close_now()
        with pytest.raises(ReaderBusy):
            await waits
        locked.execute("ROLLBACK")

    run(scenario())
    assert emails(engine) == []


def test_postgres_has_no_sqlite_transaction_and_sqlite_no_pipe_write(
    sqlite_file: tuple[Engine, LoopReader, Path], postgres_database: str
) -> None:
    _engine, reader, _path = sqlite_file
    with pytest.raises(ReaderBusy):
        run(reader.write(ADD_USER, user(1)))
    engine = make_engine(postgres_database)
    postgres = LoopReader(engine)
    try:
        with pytest.raises(ReaderBusy), postgres.sqlite_transaction():
            pass  # pragma: no cover - never reached
    finally:
        postgres.close_now()
        engine.dispose()


@pytest.fixture
def pipelined(postgres_database: str) -> Iterator[tuple[Engine, LoopReader]]:
    """A PostgreSQL engine (its users emptied) and a loop reader with one connection."""
    engine = make_engine(postgres_database)
    with engine.begin() as connection:
        connection.execute(_users.delete())
    reader = LoopReader(engine, connections=1)
    try:
        yield engine, reader
    finally:
        with engine.begin() as connection:
            connection.execute(_users.delete())
        reader.close_now()
        engine.dispose()


def emails(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [r[0] for r in connection.execute(select(_users.c.email).order_by(_users.c.id))]


def test_a_write_on_the_pipe_is_its_own_transaction(pipelined: tuple[Engine, LoopReader]) -> None:
    engine, reader = pipelined
    divide = PreparedQuery(
        select((bindparam("a", type_=Integer) / bindparam("b", type_=Integer)).label("q"))
    )
    missing = PreparedQuery(select(column("x")).select_from(table("no_such_table")))

    async def failing_after() -> list[Any]:
        # Sent in one turn of the loop: a read that fails after the write, in what would
        # be one batch and so one implicit transaction, must not roll the write back.
        return await asyncio.gather(
            reader.rows(divide, {"a": 6, "b": 2}),
            reader.write(ADD_USER, user(1)),
            reader.rows(missing, {}),
            return_exceptions=True,
        )

    async def failing_before() -> list[Any]:
        return await asyncio.gather(
            reader.rows(divide, {"a": 1, "b": 0}),
            reader.write(ADD_USER, user(2)),
            reader.rows(divide, {"a": 8, "b": 2}),
            return_exceptions=True,
        )

    three, written, no_table = run(failing_after())
    assert three == [(3,)]
    assert isinstance(no_table, DBAPIError)
    assert isinstance(written, list)
    assert len(written) == 1
    assert emails(engine) == ["w1@example.org"]
    by_zero, written, four = run(failing_before())
    assert isinstance(by_zero, DBAPIError)
    assert four == [(4,)]
    assert isinstance(written, list)
    assert len(written) == 1
    assert emails(engine) == ["w1@example.org", "w2@example.org"]


def test_a_failed_write_on_the_pipe_fails_alone_and_is_not_sent_again(
    pipelined: tuple[Engine, LoopReader],
) -> None:
    engine, reader = pipelined
    plus = PreparedQuery(select((bindparam("n", type_=Integer) + 1).label("m")))
    run(reader.write(ADD_USER, user(1)))

    async def together() -> list[Any]:
        return await asyncio.gather(
            reader.rows(plus, {"n": 1}),
            reader.write(ADD_USER, user(1)),  # the same email: refused
            reader.write(ADD_USER, user(2)),
            reader.rows(plus, {"n": 2}),
            return_exceptions=True,
        )

    two, refused, second, three = run(together())
    assert two == [(2,)]
    assert three == [(3,)]
    assert isinstance(refused, IntegrityError)
    assert not refused.connection_invalidated
    assert isinstance(second, list)
    assert emails(engine) == ["w1@example.org", "w2@example.org"]


def test_the_writes_of_one_turn_share_one_transaction_and_one_commit(
    pipelined: tuple[Engine, LoopReader],
) -> None:
    engine, reader = pipelined
    transaction = PreparedQuery(select(func.txid_current().label("t")))
    plus = PreparedQuery(select((bindparam("n", type_=Integer) + 1).label("m")))

    async def one_turn() -> list[Any]:
        return await asyncio.gather(
            reader.write(transaction, {}),
            reader.rows(plus, {"n": 1}),
            reader.write(transaction, {}),
            reader.write(ADD_USER, user(1)),
            reader.rows(transaction, {}),  # a read: in the reads' batch
        )

    first, two, second, written, read = run(one_turn())
    assert two == [(2,)]
    assert len(written) == 1
    # PostgreSQL waits for the disk once for the three writes: one transaction.
    assert first == second
    assert read != first
    # A later turn's writes are another transaction.
    assert run(reader.write(transaction, {})) != first
    # Three writes in one turn, the second refused: the batch was rolled back, and the
    # others were sent again alone, so each is written once.

    async def middle_fails() -> list[Any]:
        return await asyncio.gather(
            reader.write(ADD_USER, user(2)),
            reader.write(ADD_USER, user(1)),  # the same email: refused
            reader.write(ADD_USER, user(3)),
            return_exceptions=True,
        )

    added, refused, last = run(middle_fails())
    assert isinstance(refused, IntegrityError)
    assert isinstance(added, list)
    assert isinstance(last, list)
    assert emails(engine) == ["w1@example.org", "w2@example.org", "w3@example.org"]


def test_two_processes_batches_of_writes_lock_in_one_order_and_never_deadlock(
    pipelined: tuple[Engine, LoopReader],
) -> None:
    engine, first = pipelined
    second = LoopReader(engine, connections=1)  # another app process's
    # A write that holds its row's lock a while (sleeping in RETURNING, after the update).
    hold = select(literal(1)).select_from(func.pg_sleep(bindparam("s", type_=Float)))
    rename = PreparedQuery(
        _users.update()
        .where(_users.c.id == bindparam("id", type_=Integer))
        .values(full_name=bindparam("name"))
        .returning(hold.scalar_subquery())
    )
    a, b = (run(first.write(ADD_USER, user(n)))[0][0] for n in (1, 2))

    def renamed(who: int, s: float, order: bool) -> Any:
        params = {"id": who, "name": f"n{who}", "s": s}
        return params, who if order else 0

    async def crossed(reader: LoopReader, ids: tuple[int, int], order: bool) -> Any:
        writes = [renamed(ids[0], 0.3, order), renamed(ids[1], 0.0, order)]
        return await asyncio.gather(
            *(reader.write(rename, params, order=key) for params, key in writes),
            return_exceptions=True,
        )

    async def both(order: bool) -> tuple[list[Any], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcomes = await asyncio.gather(
            crossed(first, (a, b), order), crossed(second, (b, a), order)
        )
        return [*outcomes[0], *outcomes[1]], loop.time() - started

    try:
        # Ordered by the learner (here the user) whose rows they lock: the second waits for
        # the first's commit, and no write fails.
        outcomes, took = run(both(order=True))
        assert all(isinstance(o, list) for o in outcomes), outcomes
        assert took < 0.9  # PostgreSQL's deadlock_timeout is 1 s
        # Unordered, the same two batches lock a and b in opposite orders: PostgreSQL finds
        # the deadlock after a second and refuses one write (what the order prevents).
        outcomes, took = run(both(order=False))
        assert any(isinstance(o, DBAPIError) and "deadlock" in str(o) for o in outcomes)
        assert took >= 1.0
    finally:
        second.close_now()


def test_a_write_behind_a_slow_read_is_awaited_not_given_up(
    postgres_database: str,
) -> None:
    engine = make_engine(postgres_database)
    with engine.begin() as connection:
        connection.execute(_users.delete())
    reader = LoopReader(engine, connections=1, wait=0.1)
    slow = PreparedQuery(select(func.pg_sleep(bindparam("s", type_=Float))))

    async def behind() -> list[Any]:
        return await asyncio.gather(
            reader.rows(slow, {"s": 0.5}),
            reader.write(ADD_USER, user(1)),
            reader.rows(slow, {"s": 0.0}),
            return_exceptions=True,
        )

    try:
        slept, written, queued = run(behind())
        assert len(slept) == 1
        # A read queued behind the slow one goes to a worker thread (ReaderBusy); the write,
        # already sent, is awaited: giving it up could write it twice.
        assert isinstance(queued, ReaderBusy)
        assert isinstance(written, list)
        assert len(written) == 1
        assert emails(engine) == ["w1@example.org"]
        # With every connection held up, a write is refused before it is sent.

        async def refused() -> Any:
            first = asyncio.ensure_future(reader.rows(slow, {"s": 0.5}))
            await asyncio.sleep(0.3)
            try:
                return await reader.write(ADD_USER, user(2))
            except ReaderBusy as exc:
                return exc
            finally:
                await first

        assert isinstance(run(refused()), ReaderBusy)
        assert emails(engine) == ["w1@example.org"]
    finally:
        with engine.begin() as connection:
            connection.execute(_users.delete())
        reader.close_now()
        engine.dispose()
