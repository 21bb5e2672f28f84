"""The corrections themselves. Each function takes the staff member acting, changes the
record, writes its audit entry and commits both together; a correction that changes
nothing (a second withdrawal, a move to the same cohort) writes no entry. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ecampus.accounts import links, sessions
from ecampus.accounts import service as accounts
from ecampus.accounts.models import Role, User
from ecampus.accounts.tokens import Principal
from ecampus.audit import service as audit
from ecampus.courses.content import CourseContent, QuizContent
from ecampus.learning import cohorts
from ecampus.learning.models import Cohort, Enrollment
from ecampus.learning.service import NotEnrolled
from ecampus.quizzes import service as quizzes

_enrollments = Enrollment.__table__  # type: ignore[attr-defined]
_cohorts = Cohort.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Staff:
    """The coordinator or admin making a correction (an audit actor)."""

    id: int
    email: str
    role: str

    @classmethod
    def of(cls, principal: Principal) -> Staff:
        return cls(id=principal.user_id, email=principal.email, role=principal.role)


class UnknownAccount(LookupError):
    pass


class UnknownCohort(LookupError):
    pass


class NotAllowed(PermissionError):
    """Coordinators correct learners' accounts only; admins, anyone's."""


class Withdrawn(ValueError):
    """The enrolment is withdrawn: enrol the learner again before granting attempts."""


def enrolment_of(session: Session, *, course_id: str, email: str) -> tuple[User, Enrollment]:
    """The account with this email and its enrolment in the course, withdrawn or not;
    UnknownAccount or NotEnrolled."""
    user = accounts.get_by_email(session, email)
    if user is None or user.id is None:
        raise UnknownAccount(email)
    enrollment = session.exec(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course_id)
    ).first()
    if enrollment is None:
        raise NotEnrolled(course_id)
    return user, enrollment


def _cohort_code(session: Session, cohort_id: int | None) -> str | None:
    if cohort_id is None:
        return None
    cohort = session.get(Cohort, cohort_id)
    return cohort.code if cohort is not None else None


def withdraw(session: Session, *, actor: Staff, course_id: str, email: str) -> Enrollment:
    """Withdraw an enrolment: kept, with who and when, but no longer counted, and gone from
    the learner's courses (their progress stays; enrolling again restores it). Idempotent:
    the first withdrawal's date and author stay."""
    user, enrollment = enrolment_of(session, course_id=course_id, email=email)
    now = datetime.now(UTC)
    # Conditional, so two coordinators withdrawing at once write one entry between them.
    changed = session.execute(
        update(_enrollments)
        .where(_enrollments.c.id == enrollment.id, _enrollments.c.withdrawn_at.is_(None))
        .values(withdrawn_at=now, withdrawn_by_id=actor.id)
    )
    if getattr(changed, "rowcount", 0):
        audit.record(
            session,
            actor,
            "enrolment.withdraw",
            user.email,
            {
                "course": course_id,
                "cohort": _cohort_code(session, enrollment.cohort_id),
                "status": enrollment.status,
                "progress": enrollment.progress,
            },
        )
    session.commit()
    session.refresh(enrollment)
    return enrollment


def restore(session: Session, *, actor: Staff, course_id: str, email: str) -> Enrollment:
    """Undo a withdrawal: the enrolment counts again, with its progress, and the course is
    back in the learner's list. Idempotent."""
    user, enrollment = enrolment_of(session, course_id=course_id, email=email)
    changed = session.execute(
        update(_enrollments)
        .where(_enrollments.c.id == enrollment.id, _enrollments.c.withdrawn_at.is_not(None))
        .values(withdrawn_at=None, withdrawn_by_id=None)
    )
    if getattr(changed, "rowcount", 0):
        audit.record(
            session,
            actor,
            "enrolment.restore",
            user.email,
            {"course": course_id, "cohort": _cohort_code(session, enrollment.cohort_id)},
        )
    session.commit()
    session.refresh(enrollment)
    return enrollment


def move(
    session: Session, *, actor: Staff, course_id: str, email: str, cohort_code: str | None
) -> Enrollment:
    """Put an enrolment in another cohort (None: in none); UnknownCohort, CohortClosed."""
    user, enrollment = enrolment_of(session, course_id=course_id, email=email)
    target: Cohort | None = None
    if cohort_code is not None:
        target = cohorts.by_code(session, cohort_code)
        if target is None:
            raise UnknownCohort(cohort_code)
        cohorts.require_open(target)
    target_id = target.id if target is not None else None
    if enrollment.cohort_id == target_id:
        return enrollment
    before = _cohort_code(session, enrollment.cohort_id)
    enrollment.cohort_id = target_id
    session.add(enrollment)
    audit.record(
        session,
        actor,
        "enrolment.move",
        user.email,
        {"course": course_id, "from": before, "to": target.code if target else None},
    )
    session.commit()
    return enrollment


def update_cohort(
    session: Session,
    *,
    actor: Staff,
    code: str,
    name: str | None = None,
    closed: bool | None = None,
) -> Cohort:
    """Rename a cohort, close it (it keeps its members and records but takes no new
    ones) or reopen it; UnknownCohort."""
    cohort = cohorts.by_code(session, code)
    if cohort is None:
        raise UnknownCohort(code)
    if name is not None and name != cohort.name:
        audit.record(
            session, actor, "cohort.rename", cohort.code, {"from": cohort.name, "to": name}
        )
        cohort.name = name
    if closed is True and cohort.closed_at is None:
        cohort.closed_at = datetime.now(UTC)
        audit.record(session, actor, "cohort.close", cohort.code, {"name": cohort.name})
    elif closed is False and cohort.closed_at is not None:
        audit.record(
            session,
            actor,
            "cohort.reopen",
            cohort.code,
            {"name": cohort.name, "closed_at": cohort.closed_at.isoformat()},
        )
        cohort.closed_at = None
    session.add(cohort)
    session.commit()
    return cohort


def grant_attempts(
    session: Session,
    *,
    actor: Staff,
    course: CourseContent,
    quiz: QuizContent,
    email: str,
    count: int,
) -> int:
    """Give a learner `count` more attempts at a quiz; returns the attempts they now have
    left. UnknownAccount, NotEnrolled, Withdrawn, quizzes.NoAttemptLimit."""
    user, enrollment = enrolment_of(session, course_id=course.id, email=email)
    if enrollment.withdrawn_at is not None:
        raise Withdrawn(course.id)
    left = quizzes.grant(
        session,
        user_id=enrollment.user_id,
        course_id=course.id,
        quiz=quiz,
        count=count,
        granted_by_id=actor.id,
    )
    audit.record(
        session,
        actor,
        "quiz.extra_attempts",
        user.email,
        {"course": course.id, "item": quiz.id, "count": count, "attempts_left": left},
    )
    session.commit()
    return left


def may_edit(actor: Staff, user: User) -> bool:
    """Admins correct anyone's account; coordinators, learners' accounts only."""
    return actor.role == Role.admin.value or user.role == Role.learner.value


def account_to_edit(session: Session, *, actor: Staff, email: str) -> User:
    """The account a correction names; UnknownAccount, NotAllowed."""
    user = accounts.get_by_email(session, email)
    if user is None:
        raise UnknownAccount(email)
    if not may_edit(actor, user):
        raise NotAllowed(email)
    return user


def user_changes(user: User, *, full_name: str | None, email: str | None) -> dict[str, Any]:
    """What a correction would change: {field: {"from": old, "to": new}} (pure; the email
    compared as it would be stored)."""
    changes: dict[str, Any] = {}
    if full_name is not None and full_name != user.full_name:
        changes["full_name"] = {"from": user.full_name, "to": full_name}
    if email is not None:
        normalised = accounts.normalise_email(email)
        if normalised != user.email:
            changes["email"] = {"from": user.email, "to": normalised}
    return changes


def update_user(
    session: Session,
    *,
    actor: Staff,
    email: str,
    full_name: str | None = None,
    new_email: str | None = None,
    keep_session: str | None = None,
) -> tuple[User, dict[str, Any]]:
    """Correct a participant's name or email; returns the account and what changed.
    UnknownAccount, NotAllowed, accounts.EmailTaken.

    A new email ends every session of the account and retires its unused one-time links
    (they were made for the old address, which may be someone else's); `keep_session` is
    the actor's own session when they correct their own account. Certificates already
    issued keep the name printed on them."""
    user = account_to_edit(session, actor=actor, email=email)
    changes = user_changes(user, full_name=full_name, email=new_email)
    if not changes:
        return user, changes
    old_email = user.email
    if "email" in changes:
        taken = accounts.get_by_email(session, changes["email"]["to"])
        if taken is not None and taken.id != user.id:
            raise accounts.EmailTaken(changes["email"]["to"])
        user.email = changes["email"]["to"]
    if "full_name" in changes:
        user.full_name = changes["full_name"]["to"]
    session.add(user)
    detail = dict(changes)
    if "email" in changes:
        links.retire_links(session, user=user)
        keep = keep_session if user.id == actor.id else None
        sessions.end_sessions(session, user=user, keep=keep, commit=False)
        detail["sessions_ended"] = True
    audit.record(session, actor, "user.update", old_email, detail)
    try:
        session.commit()
    except IntegrityError:  # another account took the address meanwhile
        session.rollback()
        raise accounts.EmailTaken(changes["email"]["to"]) from None
    session.refresh(user)
    return user, changes
