"""PreparedQuery reads rows exactly as SQLAlchemy does, and fails the way SQLAlchemy fails;
LoopReader does the same on the event loop, with no worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import (
    BigInteger,
    Engine,
    Float,
    Integer,
    String,
    bindparam,
    column,
    create_engine,
    event,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from ecampus.accounts.models import User, UserSession
from ecampus.db import make_engine
from ecampus.dbfast import LoopReader, PreparedQuery, ReaderBusy
from tests.aio import run

_users = User.__table__  # type: ignore[attr-defined]
_sessions = UserSession.__table__  # type: ignore[attr-defined]

QUERY = (
    select(
        _users.c.id,
        _users.c.email,
        _sessions.c.expires_at,
        (_sessions.c.revoked_at.is_(None) & _users.c.is_active).label("live"),
        _sessions.c.revoked_at,
    )
    .select_from(_users.join(_sessions, _sessions.c.user_id == _users.c.id))
    .where(_users.c.id == bindparam("user_id"), _sessions.c.expires_at > bindparam("now"))
    .order_by(_sessions.c.id)
)


def test_rows_match_sqlalchemy(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        ends = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
        with Session(engine) as session:
            user = User(email="fast@example.org", password_hash="x", full_name="Fást Páth")
            session.add(user)
            session.flush()
            assert user.id is not None
            for n, revoked in enumerate((None, ends - timedelta(days=1))):
                session.add(
                    UserSession(
                        id=f"s{n}", user_id=user.id, version=0, expires_at=ends, revoked_at=revoked
                    )
                )
            session.commit()
            user_id = user.id
        params = {"user_id": user_id, "now": datetime.now(UTC)}
        prepared = PreparedQuery(QUERY)
        with engine.connect() as connection:
            expected = [tuple(row) for row in connection.execute(QUERY, params)]
        for _ in range(2):  # the second time from the plan kept for this dialect
            rows = prepared.rows(engine, params)
            assert rows == expected
        assert rows[0][2] == ends
        assert rows[0][2].tzinfo is not None
        assert rows[0][3] is True
        assert rows[1][3] is False
        assert prepared.rows(engine, {**params, "user_id": user_id + 1}) == []
        # Bind parameters go through the column types too: an aware time in another zone.
        later = {
            **params,
            "now": ends.astimezone(ZoneInfo("America/Guatemala")),
        }
        assert prepared.rows(engine, later) == []
    finally:
        engine.dispose()


def test_driver_errors_come_out_as_sqlalchemy_errors(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        missing = select(column("x")).select_from(table("no_such_table"))
        with pytest.raises(DBAPIError):
            PreparedQuery(missing.where(column("x") == bindparam("x"))).rows(engine, {"x": 1})
        # The connection went back to the pool in a usable state.
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_no_connection_comes_out_as_a_sqlalchemy_error() -> None:
    # Nothing listens on port 1: the pool's connect fails, as in a database outage.
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nothing")
    try:
        with pytest.raises(OperationalError):
            PreparedQuery(QUERY).rows(engine, {"user_id": 1, "now": datetime.now(UTC)})
    finally:
        engine.dispose()


# LoopReader: the same rows, read on the event loop with no worker thread.


def _one_user(engine: Engine) -> int:
    with Session(engine) as session:
        user = User(email="loop@example.org", password_hash="x", full_name="Lóop Reader")
        session.add(user)
        session.flush()
        assert user.id is not None
        session.add(
            UserSession(
                id="s-loop",
                user_id=user.id,
                version=0,
                expires_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
            )
        )
        session.commit()
        return user.id


def test_loop_reader_reads_what_sqlalchemy_reads(database_url: str) -> None:
    engine = make_engine(database_url)
    reader = LoopReader(engine, connections=2)
    try:
        assert reader.available
        user_id = _one_user(engine)
        params = {"user_id": user_id, "now": datetime.now(UTC)}
        prepared = PreparedQuery(QUERY)
        threads: list[str] = []

        def heard(*_args: Any) -> None:
            threads.append(threading.current_thread().name)

        event.listen(engine, "before_cursor_execute", heard)

        async def read() -> tuple[list[Any], list[Any], str]:
            loop_thread = threading.current_thread().name
            first = await reader.rows(prepared, params)
            # Several at once share the reader's connections.
            many = await asyncio.gather(*(reader.rows(prepared, params) for _ in range(6)))
            return first, many, loop_thread

        first, many, loop_thread = run(read())
        event.remove(engine, "before_cursor_execute", heard)
        expected = prepared.rows(engine, params)
        assert first == expected
        assert first[0][2] == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert all(rows == expected for rows in many)
        # Every statement ran on the event loop's own thread, and listeners heard of each.
        assert threads == [loop_thread] * 7
        # On another event loop (tests start one per client), new connections serve it.
        assert run(reader.rows(prepared, params)) == expected
        run(reader.aclose())
    finally:
        reader.close_now()
        engine.dispose()


def test_loop_reader_is_read_only_and_fails_as_sqlalchemy_does(database_url: str) -> None:
    engine = make_engine(database_url)
    reader = LoopReader(engine)
    try:
        missing = PreparedQuery(
            select(column("x"))
            .select_from(table("no_such_table"))
            .where(column("x") == bindparam("x"))
        )
        with pytest.raises(DBAPIError):
            run(reader.rows(missing, {"x": 1}))
        # The reader still serves after an error.
        one = PreparedQuery(select(_users.c.id).where(_users.c.id == bindparam("user_id")))
        assert run(reader.rows(one, {"user_id": 0})) == []
        if engine.dialect.name == "sqlite":
            connection = reader._sqlite_connection()
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                connection.execute("DELETE FROM users")
    finally:
        reader.close_now()
        engine.dispose()


def test_in_memory_sqlite_has_no_loop_reader() -> None:
    engine = make_engine("sqlite://")
    try:
        reader = LoopReader(engine)
        assert not reader.available
        with pytest.raises(ReaderBusy):
            run(reader.rows(PreparedQuery(QUERY), {"user_id": 1, "now": datetime.now(UTC)}))
    finally:
        engine.dispose()


def test_a_locked_sqlite_database_sends_the_read_to_a_thread(tmp_path: Path) -> None:
    # Without WAL (a database another tool opened in rollback-journal mode), a writer's
    # exclusive lock makes a reader wait: the loop reader never waits, it says ReaderBusy.
    path = tmp_path / "journal.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    setup.commit()
    setup.close()
    engine = create_engine(f"sqlite:///{path}")
    reader = LoopReader(engine)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        one = PreparedQuery(select(_users.c.id).where(_users.c.id == bindparam("user_id")))
        started = time.perf_counter()
        with pytest.raises(ReaderBusy):
            run(reader.rows(one, {"user_id": 1}))
        assert time.perf_counter() - started < 0.5
        holder.execute("ROLLBACK")
        assert run(reader.rows(one, {"user_id": 1})) == []
    finally:
        holder.close()
        reader.close_now()
        engine.dispose()


def test_every_postgres_connection_busy_sends_the_read_to_a_thread(postgres_database: str) -> None:
    # PostgreSQL's loop reader has connections to wait for (SQLite's has one, never awaited).
    engine = make_engine(postgres_database)
    reader = LoopReader(engine, connections=1, wait=0.2)
    slow = PreparedQuery(select(func.pg_sleep(bindparam("s", type_=Float))))

    async def both() -> list[Any]:
        return await asyncio.gather(
            reader.rows(slow, {"s": 1.0}), reader.rows(slow, {"s": 0.0}), return_exceptions=True
        )

    try:
        first, second = run(both())
        assert len(first) == 1
        assert isinstance(second, ReaderBusy)
    finally:
        reader.close_now()
        engine.dispose()


def test_a_postgres_restart_costs_no_read(postgres_database: str) -> None:
    engine = make_engine(postgres_database)
    reader = LoopReader(engine, connections=1)
    pid = PreparedQuery(select(func.pg_backend_pid().label("pid")))

    async def scenario() -> tuple[int, int]:
        (before,) = (await reader.rows(pid, {}))[0]
        with engine.connect() as connection:  # as a restart would: the server ends it
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
            connection.commit()
        await asyncio.sleep(0.2)
        (after,) = (await reader.rows(pid, {}))[0]
        return before, after

    try:
        before, after = run(scenario())
        assert before != after
    finally:
        reader.close_now()
        engine.dispose()


# PostgreSQL's loop reader sends the reads of requests waiting at the same moment down one
# connection in libpq's pipeline mode: each must get its own answer, and its own error.


@pytest.fixture
def pipelined(postgres_database: str) -> Iterator[tuple[Engine, LoopReader]]:
    """A PostgreSQL engine and a loop reader with one connection (every read shares it)."""
    engine = make_engine(postgres_database)
    reader = LoopReader(engine, connections=1)
    try:
        yield engine, reader
    finally:
        reader.close_now()
        engine.dispose()


def test_pipelined_reads_each_get_their_own_rows(pipelined: tuple[Engine, LoopReader]) -> None:
    _engine, reader = pipelined
    echo = PreparedQuery(
        select(
            bindparam("n", type_=BigInteger).label("n"),
            # A percent sign in the SQL itself (psycopg's SQL doubles it).
            func.concat(literal_column("'pct 100% '"), bindparam("word", type_=String)).label(
                "word"
            ),
        )
    )

    async def many() -> list[Any]:
        # Small and large integers are different parameter types (int2, int8): each is
        # prepared on its own, as psycopg does.
        return await asyncio.gather(
            *(reader.rows(echo, {"n": n * 10**n, "word": f"w{n}ñ"}) for n in range(12))
        )

    results = run(many())
    assert results == [[(n * 10**n, f"pct 100% w{n}ñ")] for n in range(12)]
    assert len(reader._open) == 1  # all on the one connection


def test_an_error_in_a_pipeline_ends_only_that_read(pipelined: tuple[Engine, LoopReader]) -> None:
    _engine, reader = pipelined
    divide = PreparedQuery(
        select((bindparam("a", type_=Integer) / bindparam("b", type_=Integer)).label("q"))
    )
    missing = PreparedQuery(select(column("x")).select_from(table("no_such_table")))
    plus = PreparedQuery(select((bindparam("n", type_=Integer) + 1).label("m")))

    async def mixed() -> list[Any]:
        # Sent in one turn of the loop: one batch, which the server abandons at its first
        # error; the reads it skipped are sent again.
        return await asyncio.gather(
            reader.rows(divide, {"a": 6, "b": 3}),
            reader.rows(divide, {"a": 1, "b": 0}),
            reader.rows(missing, {}),
            reader.rows(divide, {"a": 8, "b": 2}),
            return_exceptions=True,
        )

    async def skipped_while_prepared() -> list[Any]:
        # A statement first prepared in a batch that failed before it: never prepared.
        return await asyncio.gather(
            reader.rows(divide, {"a": 1, "b": 0}),
            reader.rows(plus, {"n": 1}),
            return_exceptions=True,
        )

    first, by_zero, no_table, last = run(mixed())
    assert first == [(2,)]
    assert last == [(4,)]
    assert isinstance(by_zero, DBAPIError)
    assert "division by zero" in str(by_zero)
    assert isinstance(no_table, DBAPIError)
    assert "no_such_table" in str(no_table)
    assert not by_zero.connection_invalidated
    # A statement that failed to prepare is prepared again next time, and fails again.
    with pytest.raises(DBAPIError):
        run(reader.rows(missing, {}))
    assert run(reader.rows(divide, {"a": 9, "b": 3})) == [(3,)]
    by_zero, one = run(skipped_while_prepared())
    assert isinstance(by_zero, DBAPIError)
    assert one == [(2,)]
    assert run(reader.rows(plus, {"n": 41})) == [(42,)]


def test_a_request_cancelled_mid_read_leaves_the_pipeline_in_step(
    pipelined: tuple[Engine, LoopReader],
) -> None:
    _engine, reader = pipelined
    slow = PreparedQuery(
        select(bindparam("n", type_=Integer).label("n"), func.pg_sleep(bindparam("s", type_=Float)))
    )

    async def scenario() -> list[Any]:
        abandoned = asyncio.ensure_future(reader.rows(slow, {"n": 1, "s": 0.2}))
        behind = asyncio.ensure_future(reader.rows(slow, {"n": 2, "s": 0.0}))
        await asyncio.sleep(0.05)
        abandoned.cancel()  # a client that went away
        after = await reader.rows(slow, {"n": 3, "s": 0.0})
        return [await behind, after]

    behind, after = run(scenario())
    assert behind[0][0] == 2
    assert after[0][0] == 3


def test_a_read_lost_with_its_connection_is_read_again_on_a_new_one(
    pipelined: tuple[Engine, LoopReader],
) -> None:
    engine, reader = pipelined
    slow = PreparedQuery(
        select(
            func.pg_sleep(bindparam("s", type_=Float)).label("slept"),
            func.pg_backend_pid().label("pid"),
        )
    )

    async def scenario() -> tuple[int, int]:
        ((_, first),) = await reader.rows(slow, {"s": 0.0})
        waiting = asyncio.ensure_future(reader.rows(slow, {"s": 0.5}))
        await asyncio.sleep(0.1)
        with engine.connect() as connection:  # a restart, mid-read
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            connection.commit()
        ((_, second),) = await waiting
        return first, second

    first, second = run(scenario())
    # A read has no effects: the one lost in flight was asked again of a new backend.
    assert first != second


def test_a_new_connection_lost_mid_read_is_an_invalidated_connection_error(
    pipelined: tuple[Engine, LoopReader],
) -> None:
    engine, reader = pipelined
    slow = PreparedQuery(select(func.pg_sleep(bindparam("s", type_=Float)).label("slept")))

    async def scenario() -> Any:
        waiting = asyncio.ensure_future(reader.rows(slow, {"s": 5.0}))
        await asyncio.sleep(0.3)
        with engine.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
                    " AND datname = current_database()"
                )
            ).all()
            connection.commit()
        assert ended == [(True,)]
        return (await asyncio.gather(waiting, return_exceptions=True))[0]

    started = time.perf_counter()
    lost = run(scenario())
    assert time.perf_counter() - started < 4  # not left waiting for the 5 s read
    # A connection that never answered is not trusted with the read again: the server
    # may be refusing it. It fails as SQLAlchemy's disconnect does; the next read works.
    assert isinstance(lost, DBAPIError)
    assert lost.connection_invalidated
    assert run(reader.rows(slow, {"s": 0.0})) == [("",)]


def test_over_tls_each_wake_up_reads_twice_and_answers_the_same(
    pipelined: tuple[Engine, LoopReader],
) -> None:
    # This machine's PostgreSQL has no TLS: the second read each wake-up makes on an
    # encrypted connection is exercised on a plain one (it then finds nothing more).
    _engine, reader = pipelined
    echo = PreparedQuery(select(bindparam("n", type_=Integer).label("n")))

    async def scenario() -> list[Any]:
        await reader.rows(echo, {"n": 0})
        [pipe] = reader._open
        assert pipe.encrypted is False
        pipe.encrypted = True
        return await asyncio.gather(*(reader.rows(echo, {"n": n}) for n in range(20)))

    assert run(scenario()) == [[(n,)] for n in range(20)]
