"""A lesson read or an attempt, with what completion earns, committed as one unit.

The progress rows, the enrolment's completion and the certificate and diplomas it earns are
written together or not at all: a crash or an error between them leaves the learner where
they were, so a retry completes the course with its certificate. Database contention is
retried from the start (ecampus.dbretry) and reported as Contention if it persists. Each
unit reads once (the caller's session, the course state, a quiz's attempts), computes the
new progress from what it read and what it writes, and writes (docs/architecture.md).

A lesson done or an attempt that does not complete the course is first tried on the event
loop itself, with no worker thread (`complete_lesson_on_loop`, `submit_attempt_on_loop`,
on dbfast.LoopReader): the same unit, the same statements. What the loop cannot take (a
course completed, whose certificate and diplomas are written through a Session; a database
busy for longer than a few milliseconds) it leaves unwritten, and the caller runs the
worker thread's way.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from ecampus.accounts.sessions import Account
from ecampus.certificates import service as certificates
from ecampus.certificates.models import Certificate
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent, LessonContent, QuizContent
from ecampus.dbfast import LoopReader, LoopTransaction, ReaderBusy
from ecampus.dbretry import Contention, is_contention, run_unit
from ecampus.learning import service as learning
from ecampus.learning.service import CourseState
from ecampus.quizzes import grading
from ecampus.quizzes import service as quizzes


def settle(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    catalogue: Catalogue,
    state: CourseState,
) -> Certificate | None:
    """Issue what completion earns (idempotent, no commit); return the course certificate."""
    if not state.progress.completed:
        return None
    certificate = certificates.issue_for_course(
        session, user_id=user_id, course=course, score=state.progress.score
    )
    certificates.issue_programmes(
        session,
        user_id=user_id,
        programmes=catalogue.programmes_with(course.id),
        language=course.language,
    )
    return certificate


def _settle_on(
    connection: Connection,
    *,
    user_id: int,
    course: CourseContent,
    catalogue: Catalogue,
    state: CourseState,
) -> Certificate | None:
    """settle, in the connection's transaction (committed or rolled back by its owner)."""
    if not state.progress.completed:
        return None
    with Session(bind=connection, expire_on_commit=False) as session:
        certificate = settle(
            session, user_id=user_id, course=course, catalogue=catalogue, state=state
        )
        session.flush()
        return certificate


@contextmanager
def _autocommit(connection: Connection, on: bool) -> Iterator[None]:
    """PostgreSQL: the block's statements each commit by themselves, with no BEGIN and
    COMMIT round trips (a read, or one statement that writes everything)."""
    if not on:
        yield
        return
    driver = connection.connection.driver_connection
    driver.autocommit = True  # type: ignore[union-attr]
    try:
        yield
    finally:
        if connection.connection.is_valid:
            driver.autocommit = False  # type: ignore[union-attr]


class _NumberTaken(Exception):
    """Another submission stored an attempt under the number this one tried (or, on
    PostgreSQL's one statement, the enrolment changed meanwhile: it cannot tell which)."""


# Nothing was written, because another request wrote meanwhile what this one read: the unit
# reads again and plans its write anew.
_READ_AGAIN = (_NumberTaken, learning.ChangedMeanwhile)


# How a unit of work reaches the database. On PostgreSQL its read runs in autocommit and,
# unless the write completes the course (then the certificate comes in the same
# transaction), the write is one statement in autocommit: two round trips in all, where a
# transaction costs a BEGIN, a statement each and a COMMIT. On SQLite, statements cost no
# round trip: the read, then one transaction (under the writer lock, dbretry.run_unit).


def complete_lesson(
    engine: Engine,
    *,
    user_id: int,
    session_id: str | None,
    course: CourseContent,
    item_id: str,
    catalogue: Catalogue,
    admit: Callable[[Account | None], LessonContent],
) -> tuple[CourseState, Certificate | None]:
    """Mark a lesson read and settle what that earns, as one unit of work: one query reads
    the caller's live session (when `session_id` is given; `admit` then turns its account,
    or None, into the lesson, or raises) and the learner's course state; then the lesson's
    row and the enrolment's progress are written, with the certificate and diplomas when
    the lesson completes the course. Raises NotEnrolled or Contention."""

    def work() -> tuple[CourseState, Certificate | None]:
        with engine.connect() as connection:
            for _turn in range(NUMBER_TRIES):
                try:
                    return _lesson(connection)
                except learning.ChangedMeanwhile:
                    continue  # another lesson or attempt of the learner's: read again
        raise Contention(course.id)  # the learner's other requests kept changing it

    def _lesson(connection: Connection) -> tuple[CourseState, Certificate | None]:
        at_once = connection.dialect.name == "postgresql"
        with _autocommit(connection, at_once):
            read = learning.read_for_write(
                connection,
                _LESSON_READ if session_id is not None else _LESSON_READ_UNCHECKED,
                user_id=user_id,
                session_id=session_id,
                course=course,
            )
        write = _lesson_of(read, user_id=user_id, course=course, admit=admit)
        if at_once and not write.state.progress.completed:
            with _autocommit(connection, True):
                learning.store_lesson_at_once(connection, write)
            return write.state, None
        with connection.begin():
            learning.store(connection, write)  # ChangedMeanwhile rolls the transaction back
            certificate = _settle_on(
                connection,
                user_id=user_id,
                course=course,
                catalogue=catalogue,
                state=write.state,
            )
        return write.state, certificate

    return run_unit(engine, work)


def _lesson_of(
    read: learning.WriteRead,
    *,
    user_id: int,
    course: CourseContent,
    admit: Callable[[Account | None], LessonContent],
) -> learning.ItemWrite:
    lesson = admit(read.account)
    return learning.lesson_write(user_id=user_id, course=course, item_id=lesson.id, read=read)


_LESSON_READ = learning.write_query()
_LESSON_READ_UNCHECKED = learning.write_query(checked=False)


def submit_attempt(
    engine: Engine,
    *,
    user_id: int,
    session_id: str | None,
    course: CourseContent,
    item_id: str,
    answers: object,
    catalogue: Catalogue,
    admit: Callable[[Account | None], QuizContent],
) -> tuple[quizzes.AttemptOutcome, Certificate | None]:
    """Grade and store an attempt and settle what it earns, as one unit of work: one query
    reads the caller's live session (when `session_id` is given; `admit` then turns its
    account, or None, into the quiz, or raises), the learner's course state and attempts;
    then the attempt, the quiz's row and the enrolment's progress are written, with the
    certificate and diplomas when the attempt completes the course. Raises NotEnrolled,
    AnswerError, NoAttemptsLeft, or Contention (also when concurrent submissions keep
    taking the next number)."""

    def work() -> tuple[quizzes.AttemptOutcome, Certificate | None]:
        with engine.connect() as connection:
            for _turn in range(NUMBER_TRIES):
                try:
                    return _submission(connection)
                except _READ_AGAIN:
                    continue  # another request took this number: read the counts again
        # Concurrent submissions took the number five times running: that is a busy
        # database, not "no attempts left".
        raise Contention(item_id)

    def _submission(connection: Connection) -> tuple[quizzes.AttemptOutcome, Certificate | None]:
        at_once = connection.dialect.name == "postgresql"
        with _autocommit(connection, at_once):
            read = quizzes.read_for_submission(
                connection, user_id=user_id, session_id=session_id, course=course, item_id=item_id
            )
        planned = _attempt_of(read, user_id=user_id, course=course, answers=answers, admit=admit)
        quiz, grade, params, write = planned.quiz, planned.grade, planned.params, planned.write
        if at_once and not write.state.progress.completed:
            with _autocommit(connection, True):
                attempt = quizzes.insert_attempt_at_once(connection, params, write)
            if attempt is None:
                raise _NumberTaken
            return quizzes.outcome(quiz, grade, attempt, read.granted, write), None
        with connection.begin():
            attempt = quizzes.insert_attempt(connection, params)
            if attempt is None:
                raise _NumberTaken  # nothing was written: the transaction rolls back
            learning.store(connection, write)
            certificate = _settle_on(
                connection, user_id=user_id, course=course, catalogue=catalogue, state=write.state
            )
        return quizzes.outcome(quiz, grade, attempt, read.granted, write), certificate

    return run_unit(engine, work)


@dataclass(frozen=True, slots=True)
class _Attempt:
    quiz: QuizContent
    grade: grading.Grade
    params: dict[str, Any]  # the attempt's bound values
    write: learning.ItemWrite  # the quiz's row and the progress


def _attempt_of(
    read: quizzes.SubmissionRead,
    *,
    user_id: int,
    course: CourseContent,
    answers: object,
    admit: Callable[[Account | None], QuizContent],
) -> _Attempt:
    """What a submission writes, from what it read (either way: thread or loop)."""
    quiz = admit(read.read.account)
    if not read.read.enrolled:
        raise learning.NotEnrolled(course.id)
    grade = grading.grade(quiz, answers)
    number = quizzes.next_number(quiz, read)
    params = quizzes.attempt_params(
        user_id=user_id, course=course, quiz=quiz, grade=grade, number=number
    )
    write = learning.quiz_write(
        user_id=user_id,
        course=course,
        item_id=quiz.id,
        score=grade.score,
        passed=grade.passed,
        read=read.read,
    )
    return _Attempt(quiz, grade, params, write)


class _ThreadsWay(Exception):
    """What the event loop leaves to a worker thread (nothing of it written): a course
    completed, whose certificate and diplomas are written through a Session."""


T = TypeVar("T")

# SQLite: how long a unit waits on the loop for the write lock that another process (or a
# worker thread of this one) holds, queued (LoopReader.sqlite_write), before it is left to a
# worker thread. A write holds the lock for a fraction of a millisecond on the loop. Measured
# with two workers (bench/suite.py): leaving it after 15 ms sent hundreds of units a second
# to worker threads, which wait in SQLite's busy handler (pauses of up to 100 ms) holding
# the process's writer lock, and with it made every other write of that process wait: p99
# 206-594 ms.
LOOP_PATIENCE = 1.0  # seconds
READ_PAUSES = (0.0, 0.0005, 0.001, 0.002)  # the loop's read told busy (rare in WAL mode)
NUMBER_TRIES = 5  # attempt numbers taken by other requests before the thread's way


async def _on_sqlite_loop(
    reader: LoopReader, prepare: Callable[[LoopTransaction], Callable[[LoopTransaction], T]]
) -> T | None:
    """`prepare` reads and computes on the loop's read-only connection, holding no lock;
    the writes it gives run in a write transaction on the loop (LoopReader.sqlite_write,
    which queues them while the lock is taken). Both again when another process took the
    attempt number meanwhile; None, with nothing written, when the unit is left to a
    worker thread."""
    read_pauses = iter(READ_PAUSES)
    numbers = 0
    while True:
        try:
            write = prepare(reader.sqlite_reading())
        except ReaderBusy:
            pause = next(read_pauses, None)
            if pause is None:
                return None
            await asyncio.sleep(pause)
            continue
        except _ThreadsWay:
            return None
        try:
            return await reader.sqlite_write(write, patience=LOOP_PATIENCE)
        except _READ_AGAIN:
            numbers += 1
            if numbers >= NUMBER_TRIES:
                return None  # the worker thread's way waits between its tries (dbretry)
        except ReaderBusy:
            return None
        except DBAPIError as exc:
            if is_contention(exc):  # rolled back: the thread's way retries it
                return None
            raise


# One unit at a time per learner and course in each process, on the loop: the learner's
# other requests (a double click, another tab) wait for its write instead of reading what
# it is about to change, which would make theirs fail (ChangedMeanwhile, or the attempt
# number taken) and read again. Measured in-process on PostgreSQL with four requests of each
# learner in flight (bench/inprocess.py --learners 8 --concurrency 32): a quiz submission
# cost 716-728 µs of CPU without the turns, 200-216 µs with them; a lesson done 451-493
# against 122-130. Other processes' requests are still caught by the checks.
_turns: weakref.WeakValueDictionary[tuple[Any, int, str], asyncio.Lock] = (
    weakref.WeakValueDictionary()
)


@asynccontextmanager
async def _learner_turn(user_id: int, course_id: str) -> AsyncIterator[None]:
    key = (asyncio.get_running_loop(), user_id, course_id)
    lock = _turns.get(key)
    if lock is None:
        lock = _turns[key] = asyncio.Lock()
    async with lock:
        yield


async def _on_postgres_loop(unit: Callable[[], Awaitable[T | None]]) -> T | None:
    """`unit` on the loop's PostgreSQL pipe; None, with nothing written, when it is left to
    a worker thread: the pipe cannot take it (ReaderBusy), or a statement failed for
    contention, which wrote nothing (the worker thread's way runs the unit again, dbretry)."""
    try:
        return await unit()
    except ReaderBusy:
        return None
    except DBAPIError as exc:
        if is_contention(exc):
            return None
        raise


async def complete_lesson_on_loop(
    reader: LoopReader,
    *,
    user_id: int,
    session_id: str | None,
    course: CourseContent,
    admit: Callable[[Account | None], LessonContent],
) -> CourseState | None:
    """complete_lesson on the event loop (no worker thread), for a lesson that does not
    complete the course; None, with nothing written, when it is left to complete_lesson in
    a worker thread (a course completed, a busy database, no loop reader). Raises
    NotEnrolled, and what `admit` raises."""
    if not reader.available:
        return None
    query = _LESSON_READ if session_id is not None else _LESSON_READ_UNCHECKED
    if reader.dialect.name == "sqlite":

        def lesson(reading: LoopTransaction) -> Callable[[LoopTransaction], CourseState]:
            read = learning.read_for_write(
                reading, query, user_id=user_id, session_id=session_id, course=course
            )
            write = _lesson_of(read, user_id=user_id, course=course, admit=admit)
            if write.state.progress.completed:
                raise _ThreadsWay

            def store(transaction: LoopTransaction) -> CourseState:
                learning.store(transaction, write)
                return write.state

            return store

        async with _learner_turn(user_id, course.id):
            return await _on_sqlite_loop(reader, lesson)

    async def on_pipe() -> CourseState | None:
        for _turn in range(NUMBER_TRIES):
            read = await learning.read_for_write_on_loop(
                reader, query, user_id=user_id, session_id=session_id, course=course
            )
            write = _lesson_of(read, user_id=user_id, course=course, admit=admit)
            if write.state.progress.completed:
                return None
            try:
                await learning.store_lesson_on_loop(reader, write)
            except learning.ChangedMeanwhile:
                continue  # another lesson or attempt of the learner's: read again
            return write.state
        return None  # the worker thread's way decides whether that is a busy database

    async with _learner_turn(user_id, course.id):
        return await _on_postgres_loop(on_pipe)


async def submit_attempt_on_loop(
    reader: LoopReader,
    *,
    user_id: int,
    session_id: str | None,
    course: CourseContent,
    item_id: str,
    answers: object,
    admit: Callable[[Account | None], QuizContent],
) -> quizzes.AttemptOutcome | None:
    """submit_attempt on the event loop (no worker thread), for an attempt that does not
    complete the course; None, with nothing written, when it is left to submit_attempt in
    a worker thread (a course completed, a busy database, no loop reader). Raises
    NotEnrolled, AnswerError, NoAttemptsLeft, and what `admit` raises."""
    if not reader.available:
        return None

    def attempt_of(read: quizzes.SubmissionRead) -> _Attempt:
        return _attempt_of(read, user_id=user_id, course=course, answers=answers, admit=admit)

    if reader.dialect.name == "sqlite":

        def submission(
            reading: LoopTransaction,
        ) -> Callable[[LoopTransaction], quizzes.AttemptOutcome]:
            read = quizzes.read_for_submission(
                reading, user_id=user_id, session_id=session_id, course=course, item_id=item_id
            )
            planned = attempt_of(read)
            if planned.write.state.progress.completed:
                raise _ThreadsWay

            def store(transaction: LoopTransaction) -> quizzes.AttemptOutcome:
                attempt = quizzes.insert_attempt(transaction, planned.params)
                if attempt is None:  # another process took the number: read again
                    raise _NumberTaken
                learning.store(transaction, planned.write)
                return quizzes.outcome(
                    planned.quiz, planned.grade, attempt, read.granted, planned.write
                )

            return store

        async with _learner_turn(user_id, course.id):
            return await _on_sqlite_loop(reader, submission)

    async def on_pipe() -> quizzes.AttemptOutcome | None:
        for _turn in range(NUMBER_TRIES):
            read = await quizzes.read_for_submission_on_loop(
                reader, user_id=user_id, session_id=session_id, course=course, item_id=item_id
            )
            planned = attempt_of(read)
            if planned.write.state.progress.completed:
                return None
            stored = await quizzes.insert_attempt_on_loop(reader, planned.params, planned.write)
            if stored is not None:
                return quizzes.outcome(
                    planned.quiz, planned.grade, stored, read.granted, planned.write
                )
            # another request took this number: read the counts again
        # Concurrent submissions kept taking the number: the worker thread's way, which
        # waits between its tries (dbretry), decides whether that is a busy database.
        return None

    async with _learner_turn(user_id, course.id):
        return await _on_postgres_loop(on_pipe)
