"""A lesson read or an attempt, with what completion earns, committed as one unit.

The progress rows, the enrolment's completion and the certificate and diplomas it earns are
written together or not at all: a crash or an error between them leaves the learner where
they were, so a retry completes the course with its certificate. Database contention is
retried from the start (ecampus.dbretry) and reported as Contention if it persists. Each
unit reads once (the caller's session, the course state, a quiz's attempts), computes the
new progress from what it read and what it writes, and writes (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlmodel import Session

from ecampus.accounts.sessions import Account
from ecampus.certificates import service as certificates
from ecampus.certificates.models import Certificate
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent, LessonContent, QuizContent
from ecampus.dbretry import Contention, run_unit
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
    """Another submission stored an attempt under the number this one tried."""


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
            at_once = connection.dialect.name == "postgresql"
            with _autocommit(connection, at_once):
                read = learning.read_for_write(
                    connection,
                    _LESSON_READ if session_id is not None else _LESSON_READ_UNCHECKED,
                    user_id=user_id,
                    session_id=session_id,
                    course=course,
                )
            lesson = admit(read.account)
            write = learning.lesson_write(
                user_id=user_id, course=course, item_id=lesson.id, read=read
            )
            if at_once and not write.state.progress.completed:
                with _autocommit(connection, True):
                    learning.store_lesson_at_once(connection, write)
                return write.state, None
            with connection.begin():
                learning.store(connection, write)
                certificate = _settle_on(
                    connection,
                    user_id=user_id,
                    course=course,
                    catalogue=catalogue,
                    state=write.state,
                )
            return write.state, certificate

    return run_unit(engine, work)


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
            for _turn in range(5):
                try:
                    return _submission(connection)
                except _NumberTaken:
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
