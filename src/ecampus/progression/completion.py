"""A lesson read or an attempt, with what completion earns, committed as one transaction.

The progress rows, the enrolment's completion and the certificate and diplomas it earns are
written together or not at all: a crash or an error between them leaves the learner where
they were, so a retry completes the course with its certificate. Database contention is
retried from the start (ecampus.dbretry) and reported as Contention if it persists.
"""

from __future__ import annotations

from sqlmodel import Session

from ecampus.certificates import service as certificates
from ecampus.certificates.models import Certificate
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent, QuizContent
from ecampus.dbretry import run_transaction
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


def complete_lesson(
    session: Session, *, user_id: int, course: CourseContent, item_id: str, catalogue: Catalogue
) -> tuple[CourseState, Certificate | None]:
    """Mark a lesson read and settle what that earns, in one transaction; raises NotEnrolled
    or Contention."""

    def work() -> tuple[CourseState, Certificate | None]:
        state, _just_completed = learning.mark_lesson_done(
            session, user_id=user_id, course=course, item_id=item_id
        )
        certificate = settle(
            session, user_id=user_id, course=course, catalogue=catalogue, state=state
        )
        session.commit()
        return state, certificate

    return run_transaction(session, work)


def submit_attempt(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    quiz: QuizContent,
    answers: object,
    catalogue: Catalogue,
) -> tuple[quizzes.AttemptOutcome, Certificate | None]:
    """Grade and store an attempt and settle what it earns, in one transaction; raises
    NotEnrolled, NoAttemptsLeft, AnswerError or Contention."""

    def work() -> tuple[quizzes.AttemptOutcome, Certificate | None]:
        outcome = quizzes.submit(
            session, user_id=user_id, course=course, quiz=quiz, answers=answers
        )
        certificate = settle(
            session, user_id=user_id, course=course, catalogue=catalogue, state=outcome.state
        )
        session.commit()
        return outcome, certificate

    return run_transaction(session, work)
