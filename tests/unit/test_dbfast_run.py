"""dbfast.PreparedQuery.run: statements compiled once, run on the Connection's driver cursor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from ecampus.db import make_engine
from ecampus.dbfast import PreparedQuery
from ecampus.dbretry import is_contention
from ecampus.dbtypes import UTCDateTime

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),
    Column("at", UTCDateTime(), nullable=True),
    Column("done", Boolean, nullable=False),
    Column("score", Float, nullable=True),
    Column("data", JSON, nullable=True),
)
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

ADD = PreparedQuery(
    insert(things)
    .values(
        name=bindparam("name", type_=things.c.name.type),
        kind="thing",  # a value of its own: not given at run time
        at=bindparam("at", type_=things.c.at.type),
        done=bindparam("done", type_=things.c.done.type),
        score=bindparam("score", type_=things.c.score.type),
        data=bindparam("data", type_=things.c.data.type),
    )
    .returning(things.c.id)
)
# A joined read repeats a row's values on the next: they come back the same.
READ = select(
    things.c.id, things.c.kind, things.c.at, things.c.done, things.c.score, things.c.data
).where(things.c.at > bindparam("after", type_=things.c.at.type))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/p.db")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def add(engine: Engine, name: str, **values: Any) -> int:
    row = {"at": WHEN, "done": False, "score": None, "data": None, "name": name, **values}
    with engine.begin() as connection:
        return ADD.run(connection, row)[0][0]


def test_rows_read_as_through_sqlalchemy(engine: Engine) -> None:
    add(engine, "a", done=True, score=1.5, data={"q": [1, "x"]})
    add(engine, "b")
    add(engine, "c", at=WHEN + timedelta(hours=1), done=True)
    add(engine, "d", at=None)
    params = {"after": WHEN - timedelta(days=1)}
    with engine.connect() as connection:
        fast = PreparedQuery(READ).run(connection, params)
        slow = [tuple(r) for r in connection.execute(READ, params)]
    assert fast == slow
    assert fast[0][1:] == ("thing", WHEN, True, 1.5, {"q": [1, "x"]})
    assert fast[1][2] is fast[0][2] or fast[1][2] == WHEN  # repeated: the same value
    assert fast[2][2].tzinfo is not None


def test_statements_are_heard_and_need_no_execution_context(engine: Engine) -> None:
    heard: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        heard.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        add(engine, "a")
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert len(heard) == 1
    assert heard[0].startswith("INSERT INTO things")


def test_a_rolled_back_transaction_keeps_nothing(engine: Engine) -> None:
    def undone() -> None:
        with engine.begin() as connection:
            ADD.run(connection, {"name": "a", "at": WHEN, "done": False, "score": 1, "data": None})
            raise RuntimeError("undone")

    with pytest.raises(RuntimeError):
        undone()
    with engine.connect() as connection:
        assert connection.execute(select(things.c.id)).all() == []


def test_driver_errors_come_out_as_sqlalchemy_errors(engine: Engine) -> None:
    add(engine, "a")
    with pytest.raises(IntegrityError) as taken:
        add(engine, "a")
    assert not is_contention(taken.value)
    # Another connection holds the write lock: "database is locked" is contention.
    with engine.connect() as holder:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        with engine.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout = 0")
            other.commit()
            with pytest.raises(OperationalError) as locked:
                ADD.run(other, {"name": "b", "at": WHEN, "done": False, "score": 1, "data": None})
        holder.rollback()
    assert is_contention(locked.value)
