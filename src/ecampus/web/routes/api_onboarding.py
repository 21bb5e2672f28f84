"""Coordinator API: a participants' list (CSV or XLSX) imported into a cohort."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from ecampus.accounts.models import User
from ecampus.dbretry import Contention
from ecampus.learning import cohorts
from ecampus.onboarding import service as onboarding
from ecampus.onboarding.sheet import SheetError, read_sheet
from ecampus.web.deps import ApiCsrf, CatalogueDep, Coordinator, SettingsDep, in_session

router = APIRouter(prefix="/api/v1", tags=["coordination"])

IMPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such cohort, course or programme"},
    409: {"description": "The cohort is closed"},
    413: {"description": "The file is larger than ECAMPUS_MAX_UPLOAD_BYTES"},
    422: {"description": "The file is not a readable CSV or XLSX list, or too long"},
}


@router.post("/cohorts/{code}/import", dependencies=[ApiCsrf], responses=IMPORT_ERRORS)
async def import_participants(
    code: str,
    request: Request,
    principal: Coordinator,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8, `,` or `;`) or XLSX")],
    course: Annotated[str, Form(max_length=80)] = "",
    programme: Annotated[str, Form(max_length=80)] = "",
    dry_run: Annotated[bool, Form()] = False,
    skip_invalid: Annotated[bool, Form()] = False,
    send_invitations: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Creates missing accounts (no password: each gets an invitation link) and enrols
    everyone in the course, or in every course of the programme, as members of the cohort.
    `row` in `errors` is the spreadsheet's row number (the header is row 1). A file with
    any error imports nothing unless `skip_invalid`; a dry run changes nothing."""
    try:
        target = onboarding.target_for(catalogue, course=course, programme=programme)
    except onboarding.TargetRequired as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except onboarding.UnknownTarget as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    data = await file.read()
    try:
        sheet = await run_in_threadpool(read_sheet, data)
    except SheetError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None

    def work(session: Session) -> onboarding.ImportResult:
        cohort = cohorts.by_code(session, code)
        if cohort is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"Cohort '{code}' not found")
        return onboarding.import_sheet(
            session,
            sheet=sheet,
            cohort=cohort,
            target=target,
            actor=session.get(User, principal.user_id),
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            send_invitations=send_invitations,
            base_url=settings.base_url,
            file_name=file.filename or "",
        )

    try:
        result = await in_session(request, work)
    except onboarding.CohortClosed:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "This cohort is closed: it takes no new enrolments"
        ) from None
    except Contention:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "The database is busy; nothing was imported. Try again shortly.",
            headers={"Retry-After": "5"},
        ) from None
    return result.as_json()
