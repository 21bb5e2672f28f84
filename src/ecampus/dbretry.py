"""Units of work that commit whole or not at all, retried while the database is contended.

"Contended" means another transaction holds what this one needs: SQLite's "database is
locked" once its busy timeout has passed, PostgreSQL's serialization failures, deadlocks and
lock or statement time-outs, or no free connection in the pool. Such a failure says nothing
about the request, so the whole unit is rolled back and run again from the start after a
short random pause (jitter, so that the requests that collided do not collide again). If the
database is still contended after a few tries, `Contention` tells the caller to answer
"busy, try again" rather than guess at another reason.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

T = TypeVar("T")

TRIES = 4
# No new try once this long has passed since the first began: a lock wait that already ran
# into SQLite's busy timeout (10 s) or PostgreSQL's lock_timeout is answered at once, while
# deadlocks and serialization failures, which fail fast, get their retries.
RETRY_SECONDS = 5.0
RETRY_AFTER_SECONDS = 2

# SQLITE_BUSY and SQLITE_LOCKED; extended codes (SQLITE_BUSY_SNAPSHOT...) keep them in the low byte.
_SQLITE_CODES = {5, 6}
# serialization_failure, deadlock_detected, lock_not_available, query_canceled (time-outs).
_POSTGRES_STATES = {"40001", "40P01", "55P03", "57014"}


class Contention(RuntimeError):
    """The database stayed busy with other transactions; nothing of this unit was kept."""

    retry_after = RETRY_AFTER_SECONDS


def is_contention(exc: BaseException) -> bool:
    """Whether a database error means "busy with others" rather than "this cannot work"."""
    if isinstance(exc, Contention | PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_CODES
    state = getattr(original, "sqlstate", None)
    return state in _POSTGRES_STATES


def _worth_retrying(exc: BaseException) -> bool:
    # The pool already waited its whole time-out for a connection: waiting again would
    # only hold the request longer.
    return is_contention(exc) and not isinstance(exc, PoolTimeout)


# SQLite has one writer at a time, and a writer that finds the lock taken sleeps in steps
# of up to 100 ms (its busy handler) before it looks again: under a room's load most of a
# write's time went to those sleeps. So, within a process, units of work on SQLite take
# their turn on a lock instead, which hands over the moment the last one commits; only
# other processes' writers still meet the busy handler.
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def writer_lock(engine: Engine) -> AbstractContextManager[object]:
    """The engine's in-process SQLite writer lock (nothing to take on other databases)."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    return sqlite_writer_lock(engine)


def sqlite_writer_lock(engine: Engine) -> threading.RLock:
    """The SQLite engine's in-process writer lock itself (dbfast.LoopReader takes it without
    waiting, on the event loop)."""
    with _WRITERS_LOCK:
        lock = _WRITERS.get(engine)
        if lock is None:
            lock = _WRITERS[engine] = threading.RLock()
    return lock


def _sqlite_writer(session: Session) -> AbstractContextManager[object]:
    bind = session.get_bind()
    return writer_lock(bind if isinstance(bind, Engine) else bind.engine)


def _wait(state: RetryCallState) -> float:
    # Random exponential jitter, counted from the first try (which ran before the loop).
    return random.uniform(0, min(1.0, 0.05 * 2**state.attempt_number))  # noqa: S311 (jitter)


def _retried(
    work: Callable[[], T],
    *,
    writer: AbstractContextManager[object],
    undo: Callable[[], None] | None,
    tries: int,
    seconds: float,
) -> T:
    def once() -> T:
        with writer:
            try:
                return work()
            except BaseException:
                if undo is not None:
                    undo()
                raise

    started = time.monotonic()
    try:
        try:
            # The first try outside tenacity: building its machinery costs more than a
            # statement, and most units of work succeed at once.
            return once()
        except BaseException as exc:
            left = seconds - (time.monotonic() - started)
            if tries <= 1 or left <= 0 or not _worth_retrying(exc):
                raise
        time.sleep(random.uniform(0, 0.05))  # noqa: S311 (jitter, as _wait)
        retrying = Retrying(
            stop=stop_after_attempt(tries - 1) | stop_after_delay(left),
            wait=_wait,
            retry=retry_if_exception(_worth_retrying),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return once()
    except (DBAPIError, PoolTimeout) as exc:
        if is_contention(exc):
            raise Contention(str(exc.__class__.__name__)) from exc
        raise
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover


def run_transaction(
    session: Session,
    work: Callable[[], T],
    *,
    tries: int = TRIES,
    seconds: float = RETRY_SECONDS,
) -> T:
    """Run `work` (which ends by committing) as one transaction; on any failure roll it back,
    and run it again from the start while the database is contended (at most `tries` times,
    none begun after `seconds`). Raises Contention when it stays contended; any other error
    is raised as it is."""
    return _retried(
        work, writer=_sqlite_writer(session), undo=session.rollback, tries=tries, seconds=seconds
    )


def run_unit(
    engine: Engine,
    work: Callable[[], T],
    *,
    tries: int = TRIES,
    seconds: float = RETRY_SECONDS,
) -> T:
    """run_transaction for work that holds its own connection and transaction (`with
    engine.begin()`, which rolls back on any failure): retried the same way while the
    database is contended, on SQLite holding the writer lock throughout."""
    return _retried(work, writer=writer_lock(engine), undo=None, tries=tries, seconds=seconds)
