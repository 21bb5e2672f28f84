"""What follows a completed course: its certificate and any programme diploma it unlocks."""

from __future__ import annotations

from sqlmodel import Session

from ecampus.certificates import service as certificates
from ecampus.certificates.models import Certificate
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent, QuizContent
from ecampus.learning import service as learning
from ecampus.learning.service import CourseState
from ecampus.quizzes import service as quizzes


def settle(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    catalogue: Catalogue,
    state: CourseState,
) -> Certificate | None:
    """Issue what completion earns (idempotent); return the course certificate, if any."""
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


def complete_lesson(
    session: Session, *, user_id: int, course: CourseContent, item_id: str, catalogue: Catalogue
) -> tuple[CourseState, Certificate | None]:
    """Mark a lesson read and settle what that earns; raises NotEnrolled."""
    state, _just_completed = learning.mark_lesson_done(
        session, user_id=user_id, course=course, item_id=item_id
    )
    return state, settle(session, user_id=user_id, course=course, catalogue=catalogue, state=state)


def submit_attempt(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    quiz: QuizContent,
    answers: object,
    catalogue: Catalogue,
) -> tuple[quizzes.AttemptOutcome, Certificate | None]:
    """Grade and store an attempt and settle what it earns; raises NotEnrolled,
    NoAttemptsLeft or AnswerError."""
    outcome = quizzes.submit(session, user_id=user_id, course=course, quiz=quiz, answers=answers)
    certificate = settle(
        session, user_id=user_id, course=course, catalogue=catalogue, state=outcome.state
    )
    return outcome, certificate
