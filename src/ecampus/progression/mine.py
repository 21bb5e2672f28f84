"""A learner's own courses as "my learning" shows them (the API and the page): progress,
status, score, the next item, a quiz that blocks completion and the certificate, issuing any
certificate or diploma a completed course should have produced and did not."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ecampus.certificates import service as certificates
from ecampus.learning import service as learning
from ecampus.progression.repair import repair_missing_certificates
from ecampus.quizzes.blocking import blocking_quiz


class MyCourseOut(BaseModel):
    course_id: str
    title: str
    progress: int
    status: str
    score: float | None
    enrolled_at: str
    completed_at: str | None
    certificate: str | None
    next_item: str | None
    # A quiz not passed with every attempt used: the course cannot be completed until a
    # coordinator grants another attempt.
    blocked_item: str | None = None


def issued(session: Any, *, user_id: int, catalogue: Any, enrolments: list[Any]) -> list[Any]:
    """The learner's certificates, first issuing any that a completed course should have
    produced and did not (a database written by an older version, or a crash)."""
    issued = certificates.of_user(session, user_id=user_id)
    ever = {(c.kind, c.subject_id) for c in issued}
    completed = {e.course_id for e in enrolments if e.completed_at is not None}
    due = {
        ("course", c)
        for c in completed
        if (course := catalogue.get(c)) is not None and course.certificate
    } | {
        ("programme", p.id)
        for c in completed
        for p in catalogue.programmes_with(c)
        if completed.issuperset(p.courses)
    }
    if due - ever:
        repair_missing_certificates(session, catalogue=catalogue, user_id=user_id)
        return certificates.of_user(session, user_id=user_id)
    return issued


def my_courses(session: Any, *, user_id: int, catalogue: Any) -> list[MyCourseOut]:
    enrolments = learning.enrolments_of(session, user_id=user_id)
    valid = {
        c.subject_id: c.code
        for c in issued(session, user_id=user_id, catalogue=catalogue, enrolments=enrolments)
        if c.kind == "course" and c.revoked_at is None
    }
    out = []
    for enrollment in enrolments:
        course = catalogue.get(enrollment.course_id)
        next_item = blocked = None
        if course is not None:
            state = learning.course_state(session, user_id=user_id, course=course)
            progress, status, score = (
                state.progress.percent,
                state.progress.status,
                state.progress.score,
            )
            next_item = state.progress.next_item_id
            blocked = blocking_quiz(
                session, user_id=user_id, course=course, progress=state.progress
            )
            title = course.title
        else:  # a course taken off the catalogue: what was stored still counts
            progress, status, score = enrollment.progress, enrollment.status, enrollment.score
            title = enrollment.course_id
        out.append(
            MyCourseOut(
                course_id=enrollment.course_id,
                title=title,
                progress=progress,
                status=status,
                score=score,
                enrolled_at=enrollment.enrolled_at.isoformat(),
                completed_at=enrollment.completed_at.isoformat()
                if enrollment.completed_at
                else None,
                certificate=valid.get(enrollment.course_id),
                next_item=next_item,
                blocked_item=blocked.id if blocked else None,
            )
        )
    return out
