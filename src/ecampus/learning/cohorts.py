"""Cohorts: groups of learners a coordinator enrols and follows together."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ecampus.accounts import service as accounts
from ecampus.audit.service import Actor, record
from ecampus.learning import service as learning
from ecampus.learning.models import Cohort, Enrollment


class CohortExists(ValueError):
    pass


class CohortClosed(ValueError):
    """The cohort is closed: it keeps its members and records but takes no new ones."""


@dataclass
class BulkEnrolment:
    enrolled: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def create(session: Session, *, code: str, name: str, actor: Actor | str | None = None) -> Cohort:
    """A new cohort, audit-logged ("cohort.create") in the same transaction. Commits."""
    cohort = Cohort(code=code, name=name)
    session.add(cohort)
    record(session, actor, "cohort.create", code, {"name": name})
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise CohortExists(code) from None
    session.refresh(cohort)
    return cohort


def by_code(session: Session, code: str) -> Cohort | None:
    return session.scalars(select(Cohort).where(Cohort.code == code)).first()  # type: ignore[arg-type]


def require_open(cohort: Cohort) -> None:
    """Raises CohortClosed for a closed cohort: call it before adding anyone to one."""
    if cohort.closed_at is not None:
        raise CohortClosed(cohort.code)


def all_cohorts(session: Session) -> list[Cohort]:
    return list(session.scalars(select(Cohort).order_by(Cohort.code)))


def summaries(session: Session) -> list[dict[str, object]]:
    """Each cohort with how many enrolments it holds and how many are completed."""
    e = Enrollment.__table__  # type: ignore[attr-defined]
    c = Cohort.__table__  # type: ignore[attr-defined]
    # Withdrawn enrolments are kept for the record but not counted.
    counted = and_(e.c.cohort_id == c.c.id, e.c.withdrawn_at.is_(None))
    rows = session.execute(
        select(c.c.code, c.c.name, c.c.closed_at, func.count(e.c.id), func.count(e.c.completed_at))
        .select_from(c.outerjoin(e, counted))
        .group_by(c.c.id, c.c.code, c.c.name, c.c.closed_at)
        .order_by(c.c.code)
    ).all()
    return [
        {"code": code, "name": name, "closed_at": closed, "enrolments": total, "completed": done}
        for code, name, closed, total, done in rows
    ]


def enrol(session: Session, *, cohort: Cohort, course_id: str, emails: list[str]) -> BulkEnrolment:
    """Enrol existing accounts into a course as members of a cohort; CohortClosed when
    the cohort is closed."""
    require_open(cohort)
    outcome = BulkEnrolment()
    for email in dict.fromkeys(accounts.normalise_email(e) for e in emails if e.strip()):
        user = accounts.get_by_email(session, email)
        if user is None or user.id is None:
            outcome.unknown.append(email)
            continue
        _, new = learning.enroll(session, user_id=user.id, course_id=course_id, cohort_id=cohort.id)
        (outcome.enrolled if new else outcome.already).append(email)
    return outcome
