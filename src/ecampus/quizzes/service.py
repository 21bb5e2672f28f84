"""Quiz attempts: grade on the server, keep every attempt with the rule in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from ecampus.courses.content import CourseContent, QuizContent
from ecampus.dbfast import LoopReader, LoopTransaction, PreparedQuery
from ecampus.learning import service as learning
from ecampus.learning.service import CourseState
from ecampus.quizzes import grading
from ecampus.quizzes.models import Attempt, AttemptGrant

_attempts = Attempt.__table__  # type: ignore[attr-defined]
_grants = AttemptGrant.__table__  # type: ignore[attr-defined]


class NoAttemptsLeft(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class StoredAttempt:
    id: int
    number: int


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    attempt: StoredAttempt
    grade: grading.Grade
    attempts_left: int | None
    state: CourseState
    just_completed: bool
    reveal_answers: bool  # passed, or no attempts left: the key may now be shown


def attempts_used(db: Session | Connection, *, user_id: int, course_id: str, item_id: str) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(
                Attempt.user_id == user_id,  # type: ignore[arg-type]
                Attempt.course_id == course_id,  # type: ignore[arg-type]
                Attempt.item_id == item_id,  # type: ignore[arg-type]
            )
        )
        or 0
    )


def _granted_query(user_id: int, course_id: str, item_id: str) -> Any:
    return select(func.coalesce(func.sum(AttemptGrant.count), 0)).where(
        AttemptGrant.user_id == user_id,  # type: ignore[arg-type]
        AttemptGrant.course_id == course_id,  # type: ignore[arg-type]
        AttemptGrant.item_id == item_id,  # type: ignore[arg-type]
    )


def attempt_counts(
    db: Session | Connection, *, user_id: int, course_id: str, item_id: str
) -> tuple[int, int]:
    """(attempts made, extra attempts granted) at one quiz, in one query."""
    used = (
        select(func.count())
        .select_from(Attempt)
        .where(
            Attempt.user_id == user_id,  # type: ignore[arg-type]
            Attempt.course_id == course_id,  # type: ignore[arg-type]
            Attempt.item_id == item_id,  # type: ignore[arg-type]
        )
        .scalar_subquery()
    )
    granted = _granted_query(user_id, course_id, item_id).scalar_subquery()
    row = db.execute(select(used, granted)).one()
    return int(row[0] or 0), int(row[1] or 0)


def allowed(quiz: QuizContent, granted: int = 0) -> int | None:
    """How many attempts the learner may make: the quiz's limit plus what a coordinator
    granted them; None for a quiz without a limit."""
    return None if quiz.max_attempts is None else quiz.max_attempts + granted


def remaining(quiz: QuizContent, used: int, granted: int = 0) -> int | None:
    limit = allowed(quiz, granted)
    return None if limit is None else max(limit - used, 0)


def _counts() -> tuple[Any, Any]:
    """(attempts made, extra attempts granted) at one quiz as scalar subqueries, bound as
    `user_id`, `course_id` and `item_id`. Attempts made is the highest attempt number: an
    attempt always takes the number after the attempts made and attempts are never deleted,
    so the numbers run 1..n, and the highest is one seek along the unique index where a
    count would read every attempt (a learner's hundreds, under a benchmark). It is asked
    as the first number in descending order rather than as max(): PostgreSQL turns max()
    into that seek only when its statistics say the learner's attempts are many, and
    otherwise read every one of them (measured: 157 index entries and heap rows for one
    learner, and 1 ms of the server's CPU a submission under load)."""
    user: Any = bindparam("user_id")
    course: Any = bindparam("course_id")
    item: Any = bindparam("item_id")
    highest = (
        select(_attempts.c.number)
        .where(_attempts.c.user_id == user, _attempts.c.course_id == course)
        .where(_attempts.c.item_id == item)
        .order_by(_attempts.c.number.desc())
        .limit(literal_column("1"))
        .scalar_subquery()
    )
    used = func.coalesce(highest, 0)
    granted = (
        select(func.coalesce(func.sum(_grants.c.count), 0))
        .where(_grants.c.user_id == user, _grants.c.course_id == course)
        .where(_grants.c.item_id == item)
        .scalar_subquery()
    )
    return used, granted


# A submission's only read: the caller's session (when checked), the enrolment and its item
# rows, and the attempts made and granted at the quiz.
_READ = learning.write_query(*_counts())
_READ_UNCHECKED = learning.write_query(*_counts(), checked=False)


@dataclass(frozen=True, slots=True)
class SubmissionRead:
    read: learning.WriteRead
    used: int
    granted: int


def read_for_submission(
    connection: Connection | LoopTransaction,
    *,
    user_id: int,
    session_id: str | None,
    course: CourseContent,
    item_id: str,
) -> SubmissionRead:
    """One query: the caller's account behind `session_id` (not checked when None), the
    learner's course state and their attempts at the quiz."""
    read = learning.read_for_write(
        connection,
        _READ if session_id is not None else _READ_UNCHECKED,
        user_id=user_id,
        session_id=session_id,
        course=course,
        params={"item_id": item_id},
    )
    return _submission_read(read)


async def read_for_submission_on_loop(
    reader: LoopReader,
    *,
    user_id: int,
    session_id: str | None,
    course: CourseContent,
    item_id: str,
) -> SubmissionRead:
    """`read_for_submission` on the event loop's own reader (PostgreSQL's pipe)."""
    read = await learning.read_for_write_on_loop(
        reader,
        _READ if session_id is not None else _READ_UNCHECKED,
        user_id=user_id,
        session_id=session_id,
        course=course,
        params={"item_id": item_id},
    )
    return _submission_read(read)


def _submission_read(read: learning.WriteRead) -> SubmissionRead:
    used, granted = read.extra if read.extra else (0, 0)
    return SubmissionRead(read, int(used or 0), int(granted or 0))


def next_number(quiz: QuizContent, read: SubmissionRead) -> int:
    """The number the next attempt takes; NoAttemptsLeft once the limit (max_attempts plus
    the learner's grants) is used. The unique number is what keeps the limit under
    concurrency: two submissions racing for the last attempt both try the same number, the
    loser's insert stores nothing (see insert_attempt), and it reads the counts again."""
    limit = allowed(quiz, read.granted)
    if limit is not None and read.used >= limit:
        raise NoAttemptsLeft(quiz.id)
    return read.used + 1


def attempt_params(
    *, user_id: int, course: CourseContent, quiz: QuizContent, grade: grading.Grade, number: int
) -> dict[str, Any]:
    """The attempt's bound values, kept with the rule in force (pass mark, version)."""
    return {
        "a_user_id": user_id,
        "a_course_id": course.id,
        "a_item_id": quiz.id,
        "a_number": number,
        "a_answers": grade.answers,
        "a_results": {r.question_id: r.correct for r in grade.results},
        "a_score": grade.score,
        "a_passed": grade.passed,
        "a_pass_mark": grade.pass_mark,
        "a_content_version": course.version,
        "a_created_at": datetime.now(UTC),
    }


def _attempt_insert(dialect: str, source: Any = None) -> Any:
    """The attempt under its number, or nothing when that number is taken (ON CONFLICT DO
    NOTHING rather than a caught IntegrityError, which on PostgreSQL would abort the whole
    transaction); with `source` (a CTE), only if the source has a row."""
    columns = [c for c in _attempts.c if c.name != "id"]
    values = {c.name: bindparam(f"a_{c.name}", type_=c.type) for c in columns}
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_attempts)
    if source is None:
        insert = insert.values(values)
    else:
        # (psycopg's dialect casts each typed parameter: $5::JSON, not text)
        insert = insert.from_select(list(values), select(*values.values()).select_from(source))
    return insert.on_conflict_do_nothing(
        index_elements=["user_id", "course_id", "item_id", "number"]
    ).returning(_attempts.c.id)


def _attempt_with_result(dialect: str) -> Any:
    """PostgreSQL: the attempt, the quiz's row and the enrolment's progress in one statement
    (one round trip, committing by itself in autocommit); nothing is written unless the
    enrolment is unchanged since the read (learning.ChangedMeanwhile) and the attempt's
    number is free, and the row and the progress only with the attempt."""
    unchanged = learning.unchanged_enrolment()
    attempt = _attempt_insert(dialect, source=unchanged).cte("stored_attempt")
    row = learning.quiz_upsert(dialect, source=attempt).cte("quiz_row")
    progress = learning.progress_update(completing=False, source=attempt).cte("progress")
    return select(attempt.c.id).add_cte(row, progress)


_BUILDERS = {"attempt": _attempt_insert, "attempt+result": _attempt_with_result}


# Each built and compiled for a dialect the first time it runs there.
_STATEMENTS = {name: PreparedQuery(build) for name, build in _BUILDERS.items()}


def insert_attempt(
    connection: Connection | LoopTransaction, params: dict[str, Any]
) -> StoredAttempt | None:
    """Store the attempt (no commit); None when its number was taken meanwhile."""
    inserted = _STATEMENTS["attempt"].run(connection, params)
    return StoredAttempt(int(inserted[0][0]), params["a_number"]) if inserted else None


def insert_attempt_at_once(
    connection: Connection, params: dict[str, Any], write: learning.ItemWrite
) -> StoredAttempt | None:
    """PostgreSQL, an attempt that does not complete the course: the attempt, the quiz's
    row and the progress in one statement (the connection in autocommit); None, and
    nothing written, when its number was taken meanwhile."""
    inserted = _STATEMENTS["attempt+result"].run(connection, {**params, **write.params})
    return StoredAttempt(int(inserted[0][0]), params["a_number"]) if inserted else None


async def insert_attempt_on_loop(
    reader: LoopReader, params: dict[str, Any], write: learning.ItemWrite
) -> StoredAttempt | None:
    """`insert_attempt_at_once` on the event loop's own PostgreSQL pipe (LoopReader.write)."""
    inserted = await reader.write(
        _STATEMENTS["attempt+result"], {**params, **write.params}, order=write.params["p_user"]
    )
    return StoredAttempt(int(inserted[0][0]), params["a_number"]) if inserted else None


def outcome(
    quiz: QuizContent,
    grade: grading.Grade,
    attempt: StoredAttempt,
    granted: int,
    write: learning.ItemWrite,
) -> AttemptOutcome:
    left = remaining(quiz, attempt.number, granted)
    ever_passed = quiz.id in write.state.progress.done
    return AttemptOutcome(
        attempt=attempt,
        grade=grade,
        attempts_left=left,
        state=write.state,
        just_completed=write.just_completed,
        reveal_answers=ever_passed or left == 0,
    )


class NoAttemptLimit(ValueError):
    """The quiz allows unlimited attempts: there is nothing to grant."""


def grant(
    session: Session,
    *,
    user_id: int,
    course_id: str,
    quiz: QuizContent,
    count: int,
    granted_by_id: int | None,
) -> int:
    """Give a learner `count` more attempts at a quiz (no commit); returns the attempts they
    now have left. Grants add up; the next submission counts them (see next_number)."""
    if quiz.max_attempts is None:
        raise NoAttemptLimit(quiz.id)
    if count < 1:
        raise ValueError("count must be at least 1")
    session.add(
        AttemptGrant(
            user_id=user_id,
            course_id=course_id,
            item_id=quiz.id,
            count=count,
            granted_by_id=granted_by_id,
        )
    )
    session.flush()
    used, granted = attempt_counts(session, user_id=user_id, course_id=course_id, item_id=quiz.id)
    return remaining(quiz, used, granted) or 0
