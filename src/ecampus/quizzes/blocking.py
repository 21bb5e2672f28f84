"""A learner stuck at a quiz: every attempt used, never passed. The course cannot be
completed until a coordinator grants another attempt (ecampus.corrections), so pages say
so instead of "Continue"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, literal_column, select, union_all
from sqlmodel import Session

from ecampus.courses.content import CourseContent, QuizContent
from ecampus.dbfast import LoopReader, PreparedQuery
from ecampus.learning.progress import Progress
from ecampus.quizzes.models import Attempt, AttemptGrant
from ecampus.quizzes.service import remaining


def exhausted(
    course: CourseContent,
    progress: Progress,
    used: Mapping[str, int],
    granted: Mapping[str, int] | None = None,
) -> tuple[QuizContent, ...]:
    """The quizzes, in course order, that are not passed and have no attempt left (extra
    attempts a coordinator granted count)."""
    extra = granted or {}
    return tuple(
        quiz
        for quiz in course.quizzes.values()
        if quiz.id not in progress.done
        and remaining(quiz, used.get(quiz.id, 0), extra.get(quiz.id, 0)) == 0
    )


def attempts_by_quiz(db: Session | Connection, *, user_id: int, course_id: str) -> dict[str, int]:
    """How many attempts the learner has made at each quiz of the course (one query)."""
    rows = db.execute(
        select(Attempt.item_id, func.count())  # type: ignore[call-overload]
        .where(Attempt.user_id == user_id, Attempt.course_id == course_id)
        .group_by(Attempt.item_id)
    )
    return {str(item_id): int(count) for item_id, count in rows}


def grants_by_quiz(db: Session | Connection, *, user_id: int, course_id: str) -> dict[str, int]:
    """How many extra attempts coordinators granted the learner at each quiz (one query)."""
    rows = db.execute(
        select(AttemptGrant.item_id, func.sum(AttemptGrant.count))  # type: ignore[call-overload]
        .where(AttemptGrant.user_id == user_id, AttemptGrant.course_id == course_id)
        .group_by(AttemptGrant.item_id)
    )
    return {str(item_id): int(count or 0) for item_id, count in rows}


# Both counts in one round trip, for the course page (run by ecampus.dbfast).
_counts = union_all(
    select(literal_column("'used'").label("kind"), Attempt.item_id, func.count().label("n"))  # type: ignore[call-overload]
    .where(Attempt.user_id == bindparam("user_id"), Attempt.course_id == bindparam("course_id"))
    .group_by(Attempt.item_id),
    select(
        literal_column("'granted'").label("kind"),
        AttemptGrant.item_id,
        func.sum(AttemptGrant.count).label("n"),
    )  # type: ignore[call-overload]
    .where(
        AttemptGrant.user_id == bindparam("user_id"),
        AttemptGrant.course_id == bindparam("course_id"),
    )
    .group_by(AttemptGrant.item_id),
).subquery()
_COUNTS = PreparedQuery(select(*_counts.c))


def counts_by_quiz(
    engine: Engine, *, user_id: int, course_id: str
) -> tuple[dict[str, int], dict[str, int]]:
    """attempts_by_quiz and grants_by_quiz in one query, on the pool's driver connection."""
    return _split(_COUNTS.rows(engine, {"user_id": user_id, "course_id": course_id}))


def _split(rows: Sequence[Sequence[Any]]) -> tuple[dict[str, int], dict[str, int]]:
    used: dict[str, int] = {}
    granted: dict[str, int] = {}
    for kind, item_id, count in rows:
        (used if kind == "used" else granted)[str(item_id)] = int(count or 0)
    return used, granted


def _may_block(course: CourseContent, progress: Progress) -> bool:
    """Some unpassed quiz has an attempt limit: only then is the database asked."""
    return not progress.completed and any(
        q.max_attempts is not None and q.id not in progress.done for q in course.quizzes.values()
    )


def may_limit(course: CourseContent) -> bool:
    """Some quiz of the course has an attempt limit: a learner might be stuck at it."""
    return any(q.max_attempts is not None for q in course.quizzes.values())


async def counts_on_loop(
    reader: LoopReader, *, user_id: int, course_id: str
) -> tuple[dict[str, int], dict[str, int]]:
    """counts_by_quiz on the event loop, with no worker thread (ecampus.dbfast.LoopReader);
    raises ReaderBusy when the caller should read in a worker thread instead. The course
    page asks it alongside the learner's state, before knowing the progress: on PostgreSQL
    both reads then share the loop reader's round trip."""
    rows = await reader.rows(_COUNTS, {"user_id": user_id, "course_id": course_id})
    return _split(rows)


def blocking_from_counts(
    course: CourseContent, progress: Progress, counts: tuple[Mapping[str, int], Mapping[str, int]]
) -> QuizContent | None:
    """`blocking_quiz`, given counts_on_loop's answer."""
    if not _may_block(course, progress):
        return None
    used, granted = counts
    stuck = exhausted(course, progress, used, granted)
    return stuck[0] if stuck else None


def blocking_quiz(
    db: Session | Connection | Engine, *, user_id: int, course: CourseContent, progress: Progress
) -> QuizContent | None:
    """The first quiz that keeps the learner from completing the course, if any. Asks the
    database only when some unpassed quiz has an attempt limit (one query given the
    engine, two given a session or connection)."""
    if not _may_block(course, progress):
        return None
    if isinstance(db, Engine):
        counts = counts_by_quiz(db, user_id=user_id, course_id=course.id)
    else:
        counts = (
            attempts_by_quiz(db, user_id=user_id, course_id=course.id),
            grants_by_quiz(db, user_id=user_id, course_id=course.id),
        )
    return blocking_from_counts(course, progress, counts)
