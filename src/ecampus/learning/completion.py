"""What follows a completed course: its certificate and any programme diploma it unlocks."""

from __future__ import annotations

from sqlmodel import Session

from ecampus.certificates import service as certificates
from ecampus.certificates.models import Certificate
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent
from ecampus.learning.service import CourseState


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
