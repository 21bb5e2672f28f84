"""Coordinator API for corrections: withdraw or move an enrolment, rename or close a cohort,
grant extra quiz attempts, fix a participant's name or email. Each is audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from sqlmodel import Session

from ecampus.accounts import service as accounts
from ecampus.corrections import service as corrections
from ecampus.corrections.schemas import CohortUpdateIn, ExtraAttemptsIn, MoveIn, UserUpdateIn
from ecampus.courses.catalog import Catalogue
from ecampus.learning import cohorts
from ecampus.learning.models import Cohort, Enrollment
from ecampus.learning.service import NotEnrolled
from ecampus.quizzes.service import NoAttemptLimit
from ecampus.web import items
from ecampus.web.deps import ApiCsrf, CatalogueDep, Coordinator, SessionDep

router = APIRouter(prefix="/api/v1", tags=["corrections"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such course, account or enrolment"}
}
CLOSED_COHORT = "This cohort is closed: it takes no new enrolments"


def _missing(catalogue: Catalogue, course_id: str, exc: Exception) -> HTTPException:
    """404 for a lookup that failed, naming what was missing."""
    if isinstance(exc, corrections.UnknownAccount):
        detail = "No account has this email"
    elif catalogue.get(course_id) is None:
        detail = f"Course '{course_id}' not found"
    else:
        detail = "This account is not enrolled in this course"
    return HTTPException(status.HTTP_404_NOT_FOUND, detail)


def _enrolment_out(session: Session, email: str, enrollment: Enrollment) -> dict[str, Any]:
    cohort = session.get(Cohort, enrollment.cohort_id) if enrollment.cohort_id else None
    return {
        "course": enrollment.course_id,
        "email": email,
        "cohort": cohort.code if cohort else None,
        "status": enrollment.status,
        "withdrawn_at": enrollment.withdrawn_at.isoformat() if enrollment.withdrawn_at else None,
    }


@router.delete(
    "/courses/{course_id}/enrollments/{email}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[ApiCsrf],
    responses=NOT_FOUND,
)
def withdraw_enrolment(
    course_id: str,
    email: str,
    principal: Coordinator,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> Response:
    """Withdraw an enrolment (idempotent): kept with who and when, no longer counted, gone
    from the learner's courses with its progress kept; enrolling again restores it."""
    try:
        corrections.withdraw(
            session, actor=corrections.Staff.of(principal), course_id=course_id, email=email
        )
    except (corrections.UnknownAccount, NotEnrolled) as exc:
        raise _missing(catalogue, course_id, exc) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/courses/{course_id}/enrollments/{email}/restore",
    dependencies=[ApiCsrf],
    responses=NOT_FOUND,
)
def restore_enrolment(
    course_id: str,
    email: str,
    principal: Coordinator,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> dict[str, Any]:
    """Undo a withdrawal (idempotent): the enrolment counts again, with its progress."""
    try:
        enrollment = corrections.restore(
            session, actor=corrections.Staff.of(principal), course_id=course_id, email=email
        )
    except (corrections.UnknownAccount, NotEnrolled) as exc:
        raise _missing(catalogue, course_id, exc) from None
    return _enrolment_out(session, accounts.normalise_email(email), enrollment)


@router.put(
    "/courses/{course_id}/enrollments/{email}",
    dependencies=[ApiCsrf],
    responses={**NOT_FOUND, 409: {"description": "The cohort is closed"}},
)
def move_enrolment(
    course_id: str,
    email: str,
    body: MoveIn,
    principal: Coordinator,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> dict[str, Any]:
    """Move an enrolment to another cohort (`null`: to none)."""
    try:
        enrollment = corrections.move(
            session,
            actor=corrections.Staff.of(principal),
            course_id=course_id,
            email=email,
            cohort_code=body.cohort,
        )
    except (corrections.UnknownAccount, NotEnrolled) as exc:
        raise _missing(catalogue, course_id, exc) from None
    except corrections.UnknownCohort:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"Cohort '{body.cohort}' not found"
        ) from None
    except cohorts.CohortClosed:
        raise HTTPException(status.HTTP_409_CONFLICT, CLOSED_COHORT) from None
    return _enrolment_out(session, accounts.normalise_email(email), enrollment)


@router.patch("/cohorts/{code}", dependencies=[ApiCsrf], responses=NOT_FOUND)
def update_cohort(
    code: str, body: CohortUpdateIn, principal: Coordinator, session: SessionDep
) -> dict[str, Any]:
    """Rename a cohort, or close it (`closed: true`: its members and records stay, new
    enrolments are refused with 409) or reopen it (`closed: false`)."""
    try:
        cohort = corrections.update_cohort(
            session,
            actor=corrections.Staff.of(principal),
            code=code,
            name=body.name,
            closed=body.closed,
        )
    except corrections.UnknownCohort:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Cohort '{code}' not found") from None
    return {
        "code": cohort.code,
        "name": cohort.name,
        "closed_at": cohort.closed_at.isoformat() if cohort.closed_at else None,
    }


@router.post(
    "/courses/{course_id}/items/{item_id}/extra-attempts",
    dependencies=[ApiCsrf],
    responses={
        **NOT_FOUND,
        409: {
            "description": "The item is a lesson, the quiz has no attempt limit, "
            "or the enrolment is withdrawn"
        },
    },
)
def grant_extra_attempts(
    course_id: str,
    item_id: str,
    body: ExtraAttemptsIn,
    principal: Coordinator,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> dict[str, int]:
    """Give a learner `count` more attempts at a quiz: they may make max_attempts plus
    every grant. Answers the attempts they now have left."""
    course = catalogue.get(course_id)
    if course is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Course '{course_id}' not found")
    quiz = items.quiz(course, item_id)
    try:
        left = corrections.grant_attempts(
            session,
            actor=corrections.Staff.of(principal),
            course=course,
            quiz=quiz,
            email=str(body.email),
            count=body.count,
        )
    except (corrections.UnknownAccount, NotEnrolled) as exc:
        raise _missing(catalogue, course_id, exc) from None
    except NoAttemptLimit:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "This quiz allows unlimited attempts"
        ) from None
    except corrections.Withdrawn:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "This enrolment is withdrawn: enrol the learner again first"
        ) from None
    return {"attempts_left": left}


@router.patch(
    "/users/{email}",
    dependencies=[ApiCsrf],
    responses={
        403: {"description": "Coordinators correct learners' accounts only"},
        404: {"description": "No account has this email"},
        409: {"description": "Another account has the new email"},
    },
)
def update_user(
    email: str, body: UserUpdateIn, principal: Coordinator, session: SessionDep
) -> dict[str, Any]:
    """Correct a participant's name or email (coordinators: learners' accounts; admins:
    anyone's). A new email ends the account's sessions and unused links. Certificates
    already issued keep the name printed on them."""
    try:
        user, changes = corrections.update_user(
            session,
            actor=corrections.Staff.of(principal),
            email=email,
            full_name=body.full_name,
            new_email=str(body.email) if body.email is not None else None,
            keep_session=principal.token_id,
        )
    except corrections.UnknownAccount:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No account has this email") from None
    except corrections.NotAllowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Coordinators correct learners' accounts only"
        ) from None
    except accounts.EmailTaken:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Another account already has this email"
        ) from None
    return {
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "changed": sorted(changes),
    }
