"""A learner stuck at a quiz: every attempt used, never passed. The course cannot be
completed until a coordinator grants another attempt (ecampus.corrections), so pages say
so instead of "Continue"."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, func, select
from sqlmodel import Session

from ecampus.courses.content import CourseContent, QuizContent
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


def blocking_quiz(
    db: Session | Connection, *, user_id: int, course: CourseContent, progress: Progress
) -> QuizContent | None:
    """The first quiz that keeps the learner from completing the course, if any. Asks the
    database only when some unpassed quiz has an attempt limit."""
    limited = [
        q
        for q in course.quizzes.values()
        if q.max_attempts is not None and q.id not in progress.done
    ]
    if not limited or progress.completed:
        return None
    stuck = exhausted(
        course,
        progress,
        attempts_by_quiz(db, user_id=user_id, course_id=course.id),
        grants_by_quiz(db, user_id=user_id, course_id=course.id),
    )
    return stuck[0] if stuck else None
