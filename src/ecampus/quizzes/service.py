"""Quiz attempts: grade on the server, keep every attempt with the rule in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlmodel import Session

from ecampus.courses.content import CourseContent, QuizContent
from ecampus.dbretry import Contention
from ecampus.dbutil import dialect_insert
from ecampus.learning import service as learning
from ecampus.learning.service import CourseState
from ecampus.quizzes import grading
from ecampus.quizzes.models import Attempt, AttemptGrant


class NoAttemptsLeft(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    attempt: Attempt
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


def submit(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    quiz: QuizContent,
    answers: object,
) -> AttemptOutcome:
    """Grade and store one attempt (no commit); raises NotEnrolled, NoAttemptsLeft,
    AnswerError, or Contention when concurrent submissions keep taking the next number."""
    before = learning.require_enrolment(session, user_id=user_id, course=course)
    grade = grading.grade(quiz, answers)
    attempt, granted = _store(session, user_id=user_id, course=course, quiz=quiz, grade=grade)
    learning.record_quiz_result(
        session,
        user_id=user_id,
        course=course,
        item_id=quiz.id,
        score=grade.score,
        passed=grade.passed,
    )
    state, just_completed = learning.refresh_enrolment(
        session, user_id=user_id, course=course, item_id=quiz.id, before=before
    )
    left = remaining(quiz, attempt.number, granted)
    ever_passed = quiz.id in state.progress.done
    return AttemptOutcome(
        attempt=attempt,
        grade=grade,
        attempts_left=left,
        state=state,
        just_completed=just_completed,
        reveal_answers=ever_passed or left == 0,
    )


def _store(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    quiz: QuizContent,
    grade: grading.Grade,
) -> tuple[Attempt, int]:
    """Insert the attempt under the next free number (returned with the learner's extra
    attempts at the quiz); the unique number is what keeps
    the limit (max_attempts plus the learner's grants) under concurrency: two submissions
    racing for the last attempt both try the same number, and the loser counts again."""
    for _ in range(5):
        used, granted = attempt_counts(
            session, user_id=user_id, course_id=course.id, item_id=quiz.id
        )
        limit = allowed(quiz, granted)
        if limit is not None and used >= limit:
            raise NoAttemptsLeft(quiz.id)
        # ON CONFLICT DO NOTHING rather than a caught IntegrityError, which on PostgreSQL
        # would abort the whole transaction.
        statement = (
            dialect_insert(session, Attempt)
            .values(
                user_id=user_id,
                course_id=course.id,
                item_id=quiz.id,
                number=used + 1,
                answers=grade.answers,
                results={r.question_id: r.correct for r in grade.results},
                score=grade.score,
                passed=grade.passed,
                pass_mark=grade.pass_mark,
                content_version=course.version,
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["user_id", "course_id", "item_id", "number"])
            .returning(Attempt)
        )
        attempt: Attempt | None = session.scalars(statement).first()
        if attempt is not None:
            return attempt, granted
        # another request took this number: count again
    # Concurrent submissions took the number five times running: that is a busy database,
    # not "no attempts left".
    raise Contention(quiz.id)


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
    now have left. Grants add up; the next submission counts them (see _store)."""
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
