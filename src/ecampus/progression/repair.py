"""Issue the certificates that completed learners should hold and do not.

Since completion and certificate are committed together this finds nothing new, but a
database written by an older version (which committed them apart, so a crash between the
two left learners "completed" without a certificate) is healed by it: at start-up, and for
one learner when they next look at their courses.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select, tuple_
from sqlmodel import Session

from ecampus.certificates import service as certificates
from ecampus.certificates.models import Certificate
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent, ProgrammeContent
from ecampus.dbretry import run_transaction
from ecampus.learning.models import Enrollment

log = logging.getLogger(__name__)
_enrollments = Enrollment.__table__  # type: ignore[attr-defined]
_certificates = Certificate.__table__  # type: ignore[attr-defined]


def _never_issued(kind: str, subject: Any, user: Any, only_user: int | None) -> ColumnElement[bool]:
    """No certificate of this kind and subject, valid or revoked, was ever issued to the
    learner: a revoked one is a coordinator's decision that activity never undoes.

    Written as NOT IN, which both databases answer by building the set of issued
    certificates once (SQLite an ephemeral index, PostgreSQL a hashed subplan); a correlated
    NOT EXISTS made SQLite search every certificate of the subject for each completed
    enrolment: minutes at start-up with 100,000 enrolments. No column here is nullable, so
    NOT IN means what it says. `subject` is a column (every course) or a programme id."""
    issued = select(_certificates.c.user_id).where(_certificates.c.kind == kind)
    if only_user is not None:
        issued = issued.where(_certificates.c.user_id == only_user)
    if isinstance(subject, str):
        return user.not_in(issued.where(_certificates.c.subject_id == subject))
    pairs = issued.add_columns(_certificates.c.subject_id)
    return tuple_(user, subject).not_in(pairs)


def _courses_missing(
    session: Session, user_id: int | None
) -> list[tuple[int, str, float | None, datetime]]:
    query = select(
        _enrollments.c.user_id,
        _enrollments.c.course_id,
        _enrollments.c.score,
        _enrollments.c.completed_at,
    ).where(
        _enrollments.c.completed_at.is_not(None),
        _never_issued("course", _enrollments.c.course_id, _enrollments.c.user_id, user_id),
    )
    if user_id is not None:
        query = query.where(_enrollments.c.user_id == user_id)
    return [tuple(row) for row in session.execute(query)]


def _diplomas_missing(
    session: Session, programme: ProgrammeContent, user_id: int | None
) -> list[tuple[int, datetime]]:
    """Learners who completed every course of the programme and never got its diploma, with
    the date of their last completion."""
    query = (
        select(_enrollments.c.user_id, func.max(_enrollments.c.completed_at))
        .where(
            _enrollments.c.course_id.in_(programme.courses),
            _enrollments.c.completed_at.is_not(None),
            _never_issued("programme", programme.id, _enrollments.c.user_id, user_id),
        )
        .group_by(_enrollments.c.user_id)
        .having(func.count(func.distinct(_enrollments.c.course_id)) == len(set(programme.courses)))
    )
    if user_id is not None:
        query = query.where(_enrollments.c.user_id == user_id)
    return [tuple(row) for row in session.execute(query)]


def _issue_course(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    score: float | None,
    completed_at: datetime,
) -> list[Certificate]:
    certificate = certificates.issue_for_course(
        session, user_id=user_id, course=course, score=score, issued_at=completed_at
    )
    session.commit()
    return [certificate] if certificate is not None else []


def _issue_diploma(
    session: Session,
    *,
    user_id: int,
    programme: ProgrammeContent,
    language: str,
    completed_at: datetime,
) -> list[Certificate]:
    diplomas = certificates.issue_programmes(
        session, user_id=user_id, programmes=[programme], language=language, issued_at=completed_at
    )
    session.commit()
    return diplomas


def repair_missing_certificates(
    session: Session, *, catalogue: Catalogue, user_id: int | None = None
) -> list[Certificate]:
    """Issue every missing course certificate and programme diploma (all learners, or one);
    idempotent. Each is dated at the completion that earned it, and committed on its own."""
    issued: list[Certificate] = []
    for learner, course_id, score, completed_at in _courses_missing(session, user_id):
        course = catalogue.get(course_id)
        if course is None or not course.certificate:
            continue
        work = partial(
            _issue_course,
            session,
            user_id=learner,
            course=course,
            score=score,
            completed_at=completed_at,
        )
        issued.extend(run_transaction(session, work))
    for programme in catalogue.programmes.values():
        first = catalogue.get(programme.courses[0]) if programme.courses else None
        language = first.language if first is not None else "es"
        for learner, completed_at in _diplomas_missing(session, programme, user_id):
            work = partial(
                _issue_diploma,
                session,
                user_id=learner,
                programme=programme,
                language=language,
                completed_at=completed_at,
            )
            issued.extend(run_transaction(session, work))
    session.commit()  # end the read transaction the last query left open
    return issued


def repair_at_start_up(engine: Engine, catalogue: Catalogue) -> None:
    """Heal a database left with completed learners who have no certificate."""
    with Session(engine, expire_on_commit=False) as session:
        issued = repair_missing_certificates(session, catalogue=catalogue)
    if issued:
        log.warning(
            "issued %d certificate(s) and diploma(s) missing for learners who had completed",
            len(issued),
        )
