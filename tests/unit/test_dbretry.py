"""Which database errors are contention, and how a unit of work is retried."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator

import psycopg.errors
import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from ecampus.dbretry import Contention, is_contention, run_transaction


def sqlite_error(message: str, code: int) -> OperationalError:
    original = sqlite3.OperationalError(message)
    original.sqlite_errorcode = code
    return OperationalError("INSERT ...", {}, original)


def postgres_error(error: type[psycopg.Error]) -> OperationalError:
    return OperationalError("INSERT ...", {}, error("..."))


CASES = [
    ("sqlite busy", sqlite_error("database is locked", 5), True),
    ("sqlite locked table", sqlite_error("database table is locked", 6), True),
    ("sqlite busy snapshot", sqlite_error("database is locked", 517), True),
    ("sqlite disk full", sqlite_error("database or disk is full", 13), False),
    ("sqlite read-only", sqlite_error("attempt to write a readonly database", 8), False),
    ("postgres serialization", postgres_error(psycopg.errors.SerializationFailure), True),
    ("postgres deadlock", postgres_error(psycopg.errors.DeadlockDetected), True),
    ("postgres lock timeout", postgres_error(psycopg.errors.LockNotAvailable), True),
    ("postgres statement timeout", postgres_error(psycopg.errors.QueryCanceled), True),
    ("postgres unique", IntegrityError("...", {}, psycopg.errors.UniqueViolation("...")), False),
    ("postgres gone", postgres_error(psycopg.errors.AdminShutdown), False),
    ("pool exhausted", PoolTimeout("QueuePool limit reached"), True),
    ("not a database error", ValueError("bad input"), False),
]


@pytest.mark.parametrize(("error", "contended"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_what_counts_as_contention(error: BaseException, contended: bool) -> None:
    assert is_contention(error) is contended


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    with Session(engine) as session:
        yield session
    engine.dispose()


def flaky(failures: list[BaseException]) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "done"

    return calls, work


def test_contention_is_retried_until_it_passes(session: Session) -> None:
    calls, work = flaky([sqlite_error("database is locked", 5)] * 2)
    assert run_transaction(session, work) == "done"
    assert len(calls) == 3


def test_lasting_contention_is_reported_as_such(session: Session) -> None:
    calls, work = flaky([postgres_error(psycopg.errors.DeadlockDetected)] * 10)
    with pytest.raises(Contention):
        run_transaction(session, work, tries=3)
    assert len(calls) == 3


def test_other_errors_are_not_retried(session: Session) -> None:
    calls, work = flaky([sqlite_error("database or disk is full", 13)])
    with pytest.raises(OperationalError):
        run_transaction(session, work)
    assert len(calls) == 1


def test_an_exhausted_pool_is_contention_without_waiting_again(session: Session) -> None:
    calls, work = flaky([PoolTimeout("QueuePool limit reached")] * 3)
    with pytest.raises(Contention):
        run_transaction(session, work)
    assert len(calls) == 1


def test_a_long_lock_wait_is_not_waited_again(session: Session) -> None:
    """A try that already waited out the busy timeout is not followed by another."""
    calls: list[int] = []

    def slow_then_busy() -> str:
        calls.append(1)
        time.sleep(0.3)  # as SQLite does while its busy timeout runs
        raise sqlite_error("database is locked", 5)

    with pytest.raises(Contention):
        run_transaction(session, slow_then_busy, seconds=0.2)
    assert len(calls) == 1
