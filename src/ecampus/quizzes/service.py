"""Quiz attempts: grade on the server, keep every attempt with the rule in force."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ecampus.courses.content import CourseContent, QuizContent
from ecampus.learning import service as learning
from ecampus.learning.service import CourseState
from ecampus.quizzes import grading
from ecampus.quizzes.models import Attempt


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


def remaining(quiz: QuizContent, used: int) -> int | None:
    return None if quiz.max_attempts is None else max(quiz.max_attempts - used, 0)


def submit(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    quiz: QuizContent,
    answers: object,
) -> AttemptOutcome:
    """Grade and store one attempt; raises NotEnrolled, NoAttemptsLeft or AnswerError."""
    before = learning.require_enrolment(session, user_id=user_id, course=course)
    grade = grading.grade(quiz, answers)
    for _ in range(5):
        used = attempts_used(session, user_id=user_id, course_id=course.id, item_id=quiz.id)
        if quiz.max_attempts is not None and used >= quiz.max_attempts:
            raise NoAttemptsLeft(quiz.id)
        attempt = Attempt(
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
        )
        session.add(attempt)
        try:
            session.flush()
            break
        except IntegrityError:  # another request took this attempt number: count again
            session.rollback()
    else:  # pragma: no cover - five concurrent submissions in a row
        raise NoAttemptsLeft(quiz.id)
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
    left = remaining(quiz, attempt.number)
    ever_passed = quiz.id in state.progress.done
    return AttemptOutcome(
        attempt=attempt,
        grade=grade,
        attempts_left=left,
        state=state,
        just_completed=just_completed,
        reveal_answers=ever_passed or left == 0,
    )
