"""Browser pages for corrections: find a person, fix their name or email, withdraw or move
an enrolment, grant extra quiz attempts, rename, close or reopen a cohort.

Every correction goes through a confirmation page that shows what will change: the first
post (without `confirm`) checks the request and renders that page, whose form posts the
same fields with `confirm=1`; then the correction is made and the browser is sent back
(303) to the page it came from, with a banner. Plain forms: no JavaScript needed."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from ecampus.accounts import service as accounts
from ecampus.accounts.models import User
from ecampus.accounts.tokens import Principal
from ecampus.corrections import service as corrections
from ecampus.corrections.schemas import MAX_EXTRA_ATTEMPTS, CohortUpdateIn, UserUpdateIn
from ecampus.courses.catalog import Catalogue
from ecampus.learning import cohorts
from ecampus.learning import service as learning
from ecampus.learning.models import Cohort, Enrollment
from ecampus.quizzes import blocking
from ecampus.quizzes import service as quizzes
from ecampus.web.deps import CatalogueDep, CoordinatorPage, FormCsrf, SessionDep, TemplatesDep
from ecampus.web.pages import error_page
from ecampus.web.templating import Templates
from ecampus.web.templating import gettext as _

router = APIRouter(include_in_schema=False)

Confirmed = Annotated[bool, Form()]


def _see(url: str, **params: Any) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(f"{url}?{query}" if query else url, status_code=303)


def _person_url(email: str) -> str:
    return f"/coordinator/corrections?{urlencode({'email': email})}"


def _edit_url(email: str) -> str:
    return f"/coordinator/corrections/{quote(email, safe='@')}"


def _enrolment_url(course_id: str, email: str) -> str:
    return f"/coordinator/enrolments/{quote(course_id, safe='')}/{quote(email, safe='@')}"


def _cohort_url(code: str) -> str:
    return f"/coordinator/cohorts/{quote(code, safe='')}"


def _confirm(
    request: Request,
    templates: Templates,
    *,
    title: str,
    changes: list[tuple[str, str, str]],
    action: str,
    fields: dict[str, Any],
    cancel: str,
    notes: list[str] | None = None,
    button: str,
) -> HTMLResponse:
    """The confirmation step: what will change (label, now, after), and the form that
    makes the change."""
    return templates.render(
        request,
        "coordination/confirm.html",
        {
            "title": title,
            "changes": changes,
            "notes": notes or [],
            "action": action,
            "fields": {k: v for k, v in fields.items() if v is not None},
            "cancel": cancel,
            "button": button,
        },
    )


# People -------------------------------------------------------------------------------


def _person_context(
    session: Session, catalogue: Catalogue, principal: Principal, user: User
) -> dict[str, Any]:
    assert user.id is not None
    rows = []
    for enrollment in learning.enrolments_of(session, user_id=user.id, include_withdrawn=True):
        course = catalogue.get(enrollment.course_id)
        cohort = session.get(Cohort, enrollment.cohort_id) if enrollment.cohort_id else None
        rows.append(
            {
                "enrollment": enrollment,
                "title": course.title if course else enrollment.course_id,
                "cohort": cohort,
                "url": _enrolment_url(enrollment.course_id, user.email),
            }
        )
    return {
        "person": user,
        "enrolments": rows,
        "may_edit": corrections.may_edit(corrections.Staff.of(principal), user),
        "edit_url": _edit_url(user.email),
        "access_url": f"/coordinator/people/{quote(user.email, safe='@')}",
    }


@router.get("/coordinator/corrections", response_class=HTMLResponse)
def people_page(
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    catalogue: CatalogueDep,
    templates: TemplatesDep,
    email: str = "",
    done: str = "",
) -> HTMLResponse:
    """Find a person by email: their account and every enrolment, withdrawn ones too."""
    context: dict[str, Any] = {"email": email.strip(), "done": done, "person": None}
    status_code = 200
    if email.strip():
        user = accounts.get_by_email(session, email)
        if user is None:
            status_code = 404
        else:
            context.update(_person_context(session, catalogue, principal, user))
    return templates.render(
        request, "coordination/corrections.html", context, status_code=status_code
    )


def _editable(session: Session, principal: Principal, email: str) -> User:
    try:
        return corrections.account_to_edit(
            session, actor=corrections.Staff.of(principal), email=email
        )
    except corrections.UnknownAccount:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No account has this email") from None
    except corrections.NotAllowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, _("Coordinators correct learners' accounts only.")
        ) from None


def _edit_form(
    request: Request,
    templates: Templates,
    user: User,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.render(
        request,
        "coordination/person_edit.html",
        {
            "person": user,
            "values": values or {"full_name": user.full_name, "email": user.email},
            "errors": errors or {},
            "notice": notice,
            "action": _edit_url(user.email),
            "cancel": _person_url(user.email),
        },
        status_code=status_code,
    )


@router.get("/coordinator/corrections/{email}", response_class=HTMLResponse)
def edit_person_page(
    email: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
) -> HTMLResponse:
    return _edit_form(request, templates, _editable(session, principal, email))


@router.post("/coordinator/corrections/{email}", dependencies=[FormCsrf])
def edit_person(
    email: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
    full_name: Annotated[str, Form()] = "",
    new_email: Annotated[str, Form(alias="email")] = "",
    confirm: Confirmed = False,
) -> Response:
    """Fix a name or an email: checked as registration checks them, confirmed, audited."""
    user = _editable(session, principal, email)
    values = {"full_name": full_name, "email": new_email}
    try:
        data = UserUpdateIn(full_name=full_name, email=new_email)
    except ValidationError as exc:
        errors = {
            str(e["loc"][0]): str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()
        }
        return _edit_form(request, templates, user, values=values, errors=errors, status_code=422)
    changes = corrections.user_changes(
        user, full_name=data.full_name, email=str(data.email) if data.email else None
    )
    if not changes:
        return _edit_form(request, templates, user, notice=_("Nothing to change."))
    taken = "email" in changes and accounts.get_by_email(session, changes["email"]["to"])
    if not confirm and taken:
        errors = {"email": "An account with this email already exists."}
        return _edit_form(request, templates, user, values=values, errors=errors, status_code=409)
    if not confirm:
        labels = {"full_name": _("Full name"), "email": _("Email")}
        notes = []
        if "email" in changes:
            notes.append(
                _(
                    "Changing the email signs this person out everywhere and cancels any "
                    "invitation or password link sent to the old address. They sign in "
                    "again with the new email and their password."
                )
            )
        if "full_name" in changes:
            notes.append(
                _(
                    "Certificates already issued keep the name printed on them; "
                    "new certificates carry the new name."
                )
            )
        return _confirm(
            request,
            templates,
            title=_("Correct %(name)s's account", name=user.full_name),
            changes=[(labels[k], v["from"], v["to"]) for k, v in changes.items()],
            notes=notes,
            action=_edit_url(user.email),
            fields={"full_name": data.full_name or "", "email": data.email or ""},
            cancel=_person_url(user.email),
            button=_("Save the correction"),
        )
    try:
        corrected, _changes = corrections.update_user(
            session,
            actor=corrections.Staff.of(principal),
            email=user.email,
            full_name=data.full_name,
            new_email=str(data.email) if data.email else None,
            keep_session=principal.token_id,
        )
    except accounts.EmailTaken:
        errors = {"email": "An account with this email already exists."}
        return _edit_form(request, templates, user, values=values, errors=errors, status_code=409)
    return _see("/coordinator/corrections", email=corrected.email, done="user")


# Enrolments ---------------------------------------------------------------------------


def _enrolment(session: Session, course_id: str, email: str) -> tuple[User, Enrollment]:
    try:
        return corrections.enrolment_of(session, course_id=course_id, email=email)
    except (corrections.UnknownAccount, learning.NotEnrolled):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such enrolment") from None


def _quiz_rows(session: Session, catalogue: Catalogue, user: User, course_id: str) -> list[Any]:
    course = catalogue.get(course_id)
    if course is None or user.id is None:
        return []
    used = blocking.attempts_by_quiz(session, user_id=user.id, course_id=course_id)
    granted = blocking.grants_by_quiz(session, user_id=user.id, course_id=course_id)
    return [
        {
            "quiz": quiz,
            "used": used.get(quiz.id, 0),
            "granted": granted.get(quiz.id, 0),
            "allowed": quizzes.allowed(quiz, granted.get(quiz.id, 0)),
            "left": quizzes.remaining(quiz, used.get(quiz.id, 0), granted.get(quiz.id, 0)),
        }
        for quiz in course.quizzes.values()
    ]


@router.get("/coordinator/enrolments/{course_id}/{email}", response_class=HTMLResponse)
def enrolment_page(
    course_id: str,
    email: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    catalogue: CatalogueDep,
    templates: TemplatesDep,
    done: str = "",
    left: int | None = None,
) -> HTMLResponse:
    """One enrolment: withdraw it, move it to another cohort, grant extra attempts."""
    user, enrollment = _enrolment(session, course_id, email)
    course = catalogue.get(course_id)
    cohort = session.get(Cohort, enrollment.cohort_id) if enrollment.cohort_id else None
    withdrawn_by = (
        session.get(User, enrollment.withdrawn_by_id) if enrollment.withdrawn_by_id else None
    )
    return templates.render(
        request,
        "coordination/enrolment.html",
        {
            "person": user,
            "enrollment": enrollment,
            "course_title": course.title if course else course_id,
            "cohort": cohort,
            "withdrawn_by": withdrawn_by,
            "open_cohorts": [c for c in cohorts.all_cohorts(session) if c.closed_at is None],
            "quizzes": _quiz_rows(session, catalogue, user, course_id),
            "max_extra": MAX_EXTRA_ATTEMPTS,
            "base": _enrolment_url(course_id, user.email),
            "person_url": _person_url(user.email),
            "done": done,
            "left": left,
        },
    )


@router.post("/coordinator/enrolments/{course_id}/{email}/withdraw", dependencies=[FormCsrf])
def withdraw(
    course_id: str,
    email: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    catalogue: CatalogueDep,
    templates: TemplatesDep,
    confirm: Confirmed = False,
) -> Response:
    user, _enrollment = _enrolment(session, course_id, email)
    base = _enrolment_url(course_id, user.email)
    if not confirm:
        course = catalogue.get(course_id)
        return _confirm(
            request,
            templates,
            title=_("Withdraw this enrolment?"),
            changes=[
                (
                    course.title if course else course_id,
                    _("Enrolled: %(name)s (%(email)s)", name=user.full_name, email=user.email),
                    _("Withdrawn"),
                )
            ],
            notes=[
                _(
                    "The enrolment stays on record with your name and today's date, but it "
                    "no longer counts in reports and the course leaves the learner's list. "
                    "Their progress is kept: enrolling them again restores it."
                ),
                _("Certificates already issued stay valid; revoke them separately if needed."),
            ],
            action=f"{base}/withdraw",
            fields={},
            cancel=base,
            button=_("Withdraw the enrolment"),
        )
    corrections.withdraw(
        session, actor=corrections.Staff.of(principal), course_id=course_id, email=user.email
    )
    return _see(base, done="withdrawn")


@router.post("/coordinator/enrolments/{course_id}/{email}/restore", dependencies=[FormCsrf])
def restore(
    course_id: str,
    email: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    catalogue: CatalogueDep,
    templates: TemplatesDep,
    confirm: Confirmed = False,
) -> Response:
    user, _enrollment = _enrolment(session, course_id, email)
    base = _enrolment_url(course_id, user.email)
    if not confirm:
        course = catalogue.get(course_id)
        return _confirm(
            request,
            templates,
            title=_("Restore this enrolment?"),
            changes=[(course.title if course else course_id, _("Withdrawn"), _("Counted again"))],
            notes=[
                _("It counts again, with the progress it had, and the learner sees the course.")
            ],
            action=f"{base}/restore",
            fields={},
            cancel=base,
            button=_("Restore the enrolment"),
        )
    corrections.restore(
        session, actor=corrections.Staff.of(principal), course_id=course_id, email=user.email
    )
    return _see(base, done="restored")


@router.post("/coordinator/enrolments/{course_id}/{email}/move", dependencies=[FormCsrf])
def move(
    course_id: str,
    email: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
    cohort: Annotated[str, Form()] = "",
    confirm: Confirmed = False,
) -> Response:
    user, enrollment = _enrolment(session, course_id, email)
    base = _enrolment_url(course_id, user.email)
    target = cohorts.by_code(session, cohort) if cohort else None
    if cohort and target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _("This cohort does not exist."))
    if target is not None and target.closed_at is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            _("This cohort is closed: it takes no new enrolments. Reopen it first."),
        )
    current = session.get(Cohort, enrollment.cohort_id) if enrollment.cohort_id else None
    if not confirm:
        return _confirm(
            request,
            templates,
            title=_("Move %(name)s to another cohort?", name=user.full_name),
            changes=[
                (
                    _("Cohort"),
                    current.name if current else _("No cohort"),
                    target.name if target else _("No cohort"),
                )
            ],
            action=f"{base}/move",
            fields={"cohort": cohort},
            cancel=base,
            button=_("Move the enrolment"),
        )
    try:
        corrections.move(
            session,
            actor=corrections.Staff.of(principal),
            course_id=course_id,
            email=user.email,
            cohort_code=cohort or None,
        )
    except cohorts.CohortClosed:  # closed between the two steps
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            _("This cohort is closed: it takes no new enrolments. Reopen it first."),
        ) from None
    return _see(base, done="moved")


@router.post("/coordinator/enrolments/{course_id}/{email}/attempts", dependencies=[FormCsrf])
def extra_attempts(
    course_id: str,
    email: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    catalogue: CatalogueDep,
    templates: TemplatesDep,
    item: Annotated[str, Form()] = "",
    count: Annotated[str, Form()] = "1",
    confirm: Confirmed = False,
) -> Response:
    user, enrollment = _enrolment(session, course_id, email)
    # isdecimal, not isdigit: '²' is a digit that int() refuses.
    extra = int(count) if count.strip().isdecimal() else 0
    if not 1 <= extra <= MAX_EXTRA_ATTEMPTS:
        message = _("Give between 1 and %(max)s extra attempts.", max=MAX_EXTRA_ATTEMPTS)
        return error_page(request, 422, message, translated=True)
    base = _enrolment_url(course_id, user.email)
    course = catalogue.get(course_id)
    quiz = course.quizzes.get(item) if course else None
    if course is None or quiz is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _("This quiz does not exist."))
    if quiz.max_attempts is None:
        raise HTTPException(status.HTTP_409_CONFLICT, _("This quiz allows unlimited attempts."))
    if enrollment.withdrawn_at is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            _("This enrolment is withdrawn: enrol the learner again first."),
        )
    if not confirm:
        assert user.id is not None
        used, granted = quizzes.attempt_counts(
            session, user_id=user.id, course_id=course_id, item_id=quiz.id
        )
        now_left = quizzes.remaining(quiz, used, granted) or 0
        return _confirm(
            request,
            templates,
            title=_("Give %(name)s more attempts?", name=user.full_name),
            changes=[
                (
                    _("Attempts left at %(quiz)s", quiz=quiz.title),
                    str(now_left),
                    str(now_left + extra),
                )
            ],
            notes=[
                _(
                    "Attempts the quiz allows: %(max)s. Attempts used: %(used)s.",
                    max=quiz.max_attempts,
                    used=used,
                )
            ],
            action=f"{base}/attempts",
            fields={"item": quiz.id, "count": extra},
            cancel=base,
            button=_("Grant the attempts"),
        )
    left = corrections.grant_attempts(
        session,
        actor=corrections.Staff.of(principal),
        course=course,
        quiz=quiz,
        email=user.email,
        count=extra,
    )
    return _see(base, done="attempts", left=left)


# Cohorts ------------------------------------------------------------------------------


def _cohort(session: Session, code: str) -> Cohort:
    cohort = cohorts.by_code(session, code)
    if cohort is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _("This cohort does not exist."))
    return cohort


@router.get("/coordinator/cohorts/{code}", response_class=HTMLResponse)
def cohort_page(
    code: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
    done: str = "",
) -> HTMLResponse:
    """A cohort: rename it, close it or reopen it."""
    cohort = _cohort(session, code)
    counts = next((s for s in cohorts.summaries(session) if s["code"] == cohort.code), {})
    return templates.render(
        request,
        "coordination/cohort.html",
        {"cohort": cohort, "counts": counts, "base": _cohort_url(cohort.code), "done": done},
    )


@router.post("/coordinator/cohorts/{code}/rename", dependencies=[FormCsrf])
def rename_cohort(
    code: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
    name: Annotated[str, Form()] = "",
    confirm: Confirmed = False,
) -> Response:
    cohort = _cohort(session, code)
    base = _cohort_url(cohort.code)
    try:
        new_name = CohortUpdateIn(name=name).name
    except ValidationError:
        return error_page(
            request,
            422,
            _("A cohort's name needs 2 to 200 characters on one line."),
            translated=True,
        )
    if not confirm:
        return _confirm(
            request,
            templates,
            title=_("Rename the cohort %(code)s?", code=cohort.code),
            changes=[(_("Name"), cohort.name, new_name or "")],
            notes=[_("Its code, members and reports stay as they are.")],
            action=f"{base}/rename",
            fields={"name": new_name},
            cancel=base,
            button=_("Rename the cohort"),
        )
    corrections.update_cohort(
        session, actor=corrections.Staff.of(principal), code=cohort.code, name=new_name
    )
    return _see(base, done="renamed")


@router.post("/coordinator/cohorts/{code}/close", dependencies=[FormCsrf])
def close_cohort(
    code: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
    closed: Annotated[bool, Form()] = True,
    confirm: Confirmed = False,
) -> Response:
    """Close a cohort (`closed=true`) or reopen it (`closed=false`)."""
    cohort = _cohort(session, code)
    base = _cohort_url(cohort.code)
    if not confirm:
        now, after = (_("Open"), _("Closed")) if closed else (_("Closed"), _("Open"))
        note = (
            _(
                "A closed cohort keeps its members, their progress and its reports, "
                "but nobody can be enrolled in it or moved into it until it is reopened."
            )
            if closed
            else _("The cohort will take new enrolments again.")
        )
        return _confirm(
            request,
            templates,
            title=_("Close the cohort %(name)s?", name=cohort.name)
            if closed
            else _("Reopen the cohort %(name)s?", name=cohort.name),
            changes=[(_("Status"), now, after)],
            notes=[note],
            action=f"{base}/close",
            fields={"closed": "true" if closed else "false"},
            cancel=base,
            button=_("Close the cohort") if closed else _("Reopen the cohort"),
        )
    corrections.update_cohort(
        session, actor=corrections.Staff.of(principal), code=cohort.code, closed=closed
    )
    return _see(base, done="closed" if closed else "reopened")
