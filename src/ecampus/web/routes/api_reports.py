"""Coordinator API: completion reports, cohorts; admin: accounts and roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, EmailStr, Field, model_validator
from sqlalchemy import Engine
from sqlmodel import Session

from ecampus.accounts import manage
from ecampus.accounts import service as accounts
from ecampus.accounts.models import Role, User
from ecampus.accounts.tokens import Principal
from ecampus.audit.service import Acting
from ecampus.db import ConnectionGate
from ecampus.learning import cohorts
from ecampus.onboarding import service as onboarding
from ecampus.reports import dashboard, export
from ecampus.reports.programmes import COLUMNS as PROGRAMME_COLUMNS
from ecampus.reports.programmes import programme_rows
from ecampus.reports.queries import COLUMNS, report_columns, report_rows, summary
from ecampus.web.dashboard import OptionsDep, programme_courses
from ecampus.web.deps import (
    Admin,
    ApiCsrf,
    CatalogueDep,
    Coordinator,
    EngineDep,
    GateDep,
    SessionDep,
    gated_stream,
)
from ecampus.web.downloads import content_disposition
from ecampus.web.filters import FiltersDep, ProgrammeFiltersDep

router = APIRouter(prefix="/api/v1", tags=["coordination"])


class CohortIn(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
    name: str = Field(min_length=2, max_length=200)


class CohortEnrolIn(BaseModel):
    course: str = Field(default="", max_length=80, description="a course id, or:")
    programme: str = Field(
        default="", max_length=80, description="a programme id: every course of it"
    )
    emails: list[EmailStr] = Field(min_length=1, max_length=5000)

    @model_validator(mode="after")
    def _one_target(self) -> CohortEnrolIn:
        if bool(self.course.strip()) == bool(self.programme.strip()):
            raise ValueError("send either `course` or `programme` (one of them)")
        return self


OWN_ACCOUNT: dict[int | str, dict[str, Any]] = {
    409: {"description": "You cannot change access to your own account"}
}


CLOSED_COHORT = "This cohort is closed: it takes no new enrolments"


class RoleIn(BaseModel):
    role: Role


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def report_response(
    *,
    format: str,
    name: str,
    sheet: str,
    columns: Sequence[tuple[str, str]],
    rows: Callable[[Session], Iterator[dict[str, Any]]],
    session: Session,
    engine: Engine,
    gate: ConnectionGate,
    column_batches: Callable[[Session, bool], Iterator[list[Sequence[Any]]]] | None = None,
) -> Response:
    """A report as a download: CSV and JSON streamed from a session of their own (the
    request's is closed before streaming starts), XLSX built in constant memory.
    `column_batches(session, datetimes_as_text)`, when given, is what the CSV and XLSX are
    written from: the same rows as batches of columns (export.csv_column_chunks)."""
    if format == "xlsx":
        if column_batches is not None:
            data = export.xlsx_column_bytes(
                column_batches(session, False), columns, sheet_name=sheet
            )
        else:
            data = export.xlsx_bytes(rows(session), columns, sheet_name=sheet)
        return Response(
            data,
            media_type=XLSX,
            headers={"content-disposition": content_disposition(f"{name}.xlsx")},
        )

    def stream() -> Iterator[bytes]:
        with Session(engine) as own:
            if format == "csv" and column_batches is not None:
                labels = [label for _, label in columns]
                yield from export.csv_column_chunks(column_batches(own, True), labels)
            elif format == "csv":
                yield from export.csv_chunks(rows(own), columns)
            else:
                yield from export.json_chunks(rows(own))

    if format == "csv":
        return StreamingResponse(
            gated_stream(gate, stream),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": content_disposition(f"{name}.csv")},
        )
    return StreamingResponse(gated_stream(gate, stream), media_type="application/json")


@router.get("/reports/completions")
def completion_report(
    principal: Coordinator,
    catalogue: CatalogueDep,
    session: SessionDep,
    engine: EngineDep,
    gate: GateDep,
    filters: FiltersDep,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Response:
    """One row per enrolment. Withdrawn enrolments appear only with `status=withdrawn`.
    `since`/`until` are inclusive days on `date_field`, in the institution's time zone
    (ECAMPUS_TIMEZONE); timestamps in the rows are UTC."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return report_response(
        format=format,
        name=f"completions-{filters.course or filters.programme or 'all'}-{stamp}",
        sheet="Completions",
        columns=COLUMNS,
        rows=lambda own: report_rows(own, filters, catalogue),
        column_batches=lambda own, as_text: report_columns(
            own, filters, catalogue, datetimes_as_text=as_text
        ),
        session=session,
        engine=engine,
        gate=gate,
    )


@router.get("/reports/programmes")
def programme_report(
    principal: Coordinator,
    catalogue: CatalogueDep,
    session: SessionDep,
    engine: EngineDep,
    gate: GateDep,
    filters: ProgrammeFiltersDep,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Response:
    """One row per participant and programme: courses and hours completed of the total,
    last activity, the diploma's code (or empty) and when it was completed. A participant
    has an enrolment (not withdrawn) in at least one course of the programme; timestamps
    are UTC."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    programmes = list(catalogue.programmes.values())
    courses = dict(catalogue.courses)
    return report_response(
        format=format,
        name=f"programmes-{filters.programme or 'all'}-{filters.cohort or 'all'}-{stamp}",
        sheet="Programmes",
        columns=PROGRAMME_COLUMNS,
        rows=lambda own: programme_rows(
            own, programmes=programmes, courses=courses, filters=filters
        ),
        session=session,
        engine=engine,
        gate=gate,
    )


@router.get("/reports/summary")
def completion_summary(
    principal: Coordinator, catalogue: CatalogueDep, session: SessionDep, filters: FiltersDep
) -> dict[str, Any]:
    return summary(session, filters, catalogue)


@router.get("/reports/dashboard")
def dashboard_figures(
    principal: Coordinator,
    catalogue: CatalogueDep,
    session: SessionDep,
    filters: FiltersDep,
    options: OptionsDep,
) -> dict[str, Any]:
    """The coordinator dashboard's figures, counted by the database: totals, and per course,
    programme, cohort, country and institution type `enrolled` (participants for a
    programme), `active` (activity in the last 30 days), `completed` (diplomas for a
    programme), `completion_rate` and `average_score` (percentages), and completions per
    local `month` or ISO `week` (`period`). Withdrawn enrolments are not counted."""
    figures = dashboard.compute(
        session,
        filters,
        programmes=programme_courses(catalogue),
        programme=options.programme,
        period=options.period,
    )
    cohort_names = {c.code: c.name for c in cohorts.all_cohorts(session)}
    return figures.as_dict(
        labels={
            "courses": lambda key: c.title if (c := catalogue.get(key)) else key,
            "programmes": lambda key: p.title if (p := catalogue.programmes.get(key)) else key,
            "cohorts": lambda key: cohort_names.get(key, key),
        }
    )


@router.get("/cohorts")
def list_cohorts(principal: Coordinator, session: SessionDep) -> list[dict[str, Any]]:
    """Every cohort; `closed_at` is set for a closed one (no new enrolments)."""
    return [
        {
            "code": c.code,
            "name": c.name,
            "closed_at": c.closed_at.isoformat() if c.closed_at else None,
        }
        for c in cohorts.all_cohorts(session)
    ]


@router.post(
    "/cohorts",
    status_code=status.HTTP_201_CREATED,
    dependencies=[ApiCsrf],
    responses={409: {"description": "A cohort with this code exists"}},
)
def create_cohort(body: CohortIn, principal: Coordinator, session: SessionDep) -> dict[str, Any]:
    try:
        cohort = cohorts.create(
            session,
            code=body.code,
            name=body.name,
            actor=Acting(principal.user_id, principal.email),
        )
    except cohorts.CohortExists:
        raise HTTPException(status.HTTP_409_CONFLICT, "A cohort with this code exists") from None
    return {"code": cohort.code, "name": cohort.name}


@router.post("/cohorts/{code}/enrollments", dependencies=[ApiCsrf])
def enrol_cohort(
    code: str,
    body: CohortEnrolIn,
    principal: Coordinator,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> dict[str, Any]:
    """Enrol existing accounts in a course, or in every course of a programme, as members
    of this cohort. People without an account are listed as `unknown`: import them
    (`POST /api/v1/cohorts/{code}/import`) to create their accounts."""
    cohort = cohorts.by_code(session, code)
    if cohort is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Cohort '{code}' not found")
    try:
        target = onboarding.target_for(catalogue, course=body.course, programme=body.programme)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    try:
        outcome = onboarding.enrol_existing(
            session,
            cohort=cohort,
            target=target,
            emails=[str(e) for e in body.emails],
            actor=Acting(principal.user_id, principal.email),
        )
    except cohorts.CohortClosed:
        raise HTTPException(status.HTTP_409_CONFLICT, CLOSED_COHORT) from None
    return {"enrolled": outcome.enrolled, "already": outcome.already, "unknown": outcome.unknown}


@router.get("/users")
def list_users(principal: Admin, session: SessionDep) -> list[dict[str, Any]]:
    return [
        {
            "id": u.id,
            "email": u.email,
            "full_name": u.full_name,
            "role": u.role,
            "country": u.country,
            "is_active": u.is_active,
        }
        for u in accounts.list_users(session)
    ]


@router.put("/users/{email}/role", dependencies=[ApiCsrf])
def set_role(email: str, body: RoleIn, principal: Admin, session: SessionDep) -> dict[str, Any]:
    """Change a role; it takes effect on the user's next request (roles are read from the
    account on every request, never from the token)."""
    user = accounts.set_role(
        session, email=email, role=body.role, actor=Acting(principal.user_id, principal.email)
    )
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No account has this email")
    return {"email": user.email, "role": user.role}


def _staff(principal: Principal) -> manage.Staff:
    return manage.Staff(id=principal.user_id, email=principal.email, role=principal.role)


def _account_to_manage(session: Session, email: str, principal: Principal) -> User:
    """Admins manage every account; coordinators, learners' accounts only."""
    user = accounts.get_by_email(session, email)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No account has this email")
    if principal.role != Role.admin.value and user.role != Role.learner.value:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Coordinators manage learner accounts only")
    if user.id == principal.user_id:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "You cannot change access to your own account"
        )
    return user


@router.post("/users/{email}/deactivate", dependencies=[ApiCsrf], responses=OWN_ACCOUNT)
def deactivate_user(email: str, principal: Coordinator, session: SessionDep) -> dict[str, Any]:
    """The account cannot sign in, and its sessions are refused from the next request on."""
    user = manage.deactivate(
        session, staff=_staff(principal), user=_account_to_manage(session, email, principal)
    )
    return {"email": user.email, "role": user.role, "is_active": user.is_active}


@router.post("/users/{email}/reactivate", dependencies=[ApiCsrf], responses=OWN_ACCOUNT)
def reactivate_user(email: str, principal: Coordinator, session: SessionDep) -> dict[str, Any]:
    """The account may sign in again (its old sessions stay ended)."""
    user = manage.reactivate(
        session, staff=_staff(principal), user=_account_to_manage(session, email, principal)
    )
    return {"email": user.email, "role": user.role, "is_active": user.is_active}
