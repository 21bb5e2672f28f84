"""Browser pages for coordinators: a participants' list imported into a cohort.

Upload → a preview (a dry run: every row with its bad cells highlighted and why) → confirm
→ the result (each row's outcome and invitation link), downloadable as CSV. Each step is a
plain form that works without JavaScript; the preview's confirm form carries the file back
(base64), so no upload is kept on the server between steps.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile

from ecampus.accounts.models import User
from ecampus.accounts.tokens import Principal
from ecampus.courses.catalog import Catalogue
from ecampus.dbretry import Contention
from ecampus.learning import cohorts
from ecampus.learning.models import Cohort
from ecampus.onboarding import service as onboarding
from ecampus.onboarding.sheet import FIELDS, Sheet, SheetError, read_sheet
from ecampus.reports import export
from ecampus.settings import Settings
from ecampus.web.deps import (
    CatalogueDep,
    CoordinatorPage,
    FormCsrf,
    SessionDep,
    SettingsDep,
    TemplatesDep,
    in_session,
)
from ecampus.web.downloads import content_disposition
from ecampus.web.pages import page_language
from ecampus.web.templating import Templates
from ecampus.web.templating import gettext as _

router = APIRouter(include_in_schema=False)
TEMPLATE = "coordination/import.html"


def _cohort(session: Session, code: str) -> Cohort:
    cohort = cohorts.by_code(session, code)
    if cohort is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Cohort '{code}' not found")
    return cohort


def _choices(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "courses": sorted(catalogue.courses.values(), key=lambda c: c.title),
        "programmes": sorted(catalogue.programmes.values(), key=lambda p: p.title),
    }


def _flag(form: FormData, name: str) -> bool:
    return str(form.get(name, "")).lower() in ("1", "true", "on", "yes")


@router.get("/coordinator/cohorts/{code}/import", response_class=HTMLResponse)
def import_page(
    code: str,
    request: Request,
    principal: CoordinatorPage,
    catalogue: CatalogueDep,
    session: SessionDep,
    templates: TemplatesDep,
) -> HTMLResponse:
    cohort = _cohort(session, code)
    return templates.render(
        request,
        TEMPLATE,
        {"step": "upload", "cohort": cohort, "values": {}, "error": None, **_choices(catalogue)},
    )


@router.post("/coordinator/cohorts/{code}/import", dependencies=[FormCsrf], response_model=None)
async def import_action(
    code: str,
    request: Request,
    principal: CoordinatorPage,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    templates: TemplatesDep,
) -> Response:
    """step=preview (a file uploaded: a dry run), step=confirm (the file carried back:
    the import), step=download (the result's rows carried back: CSV)."""
    form = await request.form()
    try:
        return await _act(code, request, form, principal, catalogue, settings, templates)
    finally:
        await form.close()  # the upload's temporary file


async def _act(
    code: str,
    request: Request,
    form: FormData,
    principal: Principal,
    catalogue: Catalogue,
    settings: Settings,
    templates: Templates,
) -> Response:
    step = str(form.get("step", "preview"))
    if step == "download":
        return _download(code, str(form.get("result", "")))
    chosen = str(form.get("target", ""))
    values = {
        "target": chosen,
        "send_invitations": _flag(form, "send_invitations"),
        "skip_invalid": _flag(form, "skip_invalid"),
    }
    cohort = await in_session(request, lambda db: _cohort(db, code))
    context: dict[str, Any] = {"cohort": cohort, "values": values, **_choices(catalogue)}

    def again(error: str, status_code: int = 422) -> HTMLResponse:
        return templates.render(
            request,
            TEMPLATE,
            {**context, "step": "upload", "error": error},
            status_code=status_code,
        )

    kind, _sep, target_id = chosen.partition(":")
    try:
        target = onboarding.target_for(
            catalogue,
            course=target_id if kind == "course" else "",
            programme=target_id if kind == "programme" else "",
        )
    except (LookupError, ValueError):
        return again(_("Choose the course or programme to enrol them in."))
    data, name = await _file_of(form, step)
    if data is None:
        return again(_("Choose the spreadsheet file (CSV or XLSX) to import."))
    try:
        sheet = await run_in_threadpool(read_sheet, data)
    except SheetError as exc:
        return again(exc.message.render(page_language(request)))
    confirm = step == "confirm"

    def work(db: Session) -> onboarding.ImportResult:
        return onboarding.import_sheet(
            db,
            sheet=sheet,
            cohort=_cohort(db, code),
            target=target,
            actor=db.get(User, principal.user_id),
            dry_run=not confirm,
            skip_invalid=bool(values["skip_invalid"]),
            send_invitations=bool(values["send_invitations"]),
            base_url=settings.base_url,
            file_name=name,
        )

    try:
        result = await in_session(request, work)
    except cohorts.CohortClosed:
        return again(_("This cohort is closed: it takes no new enrolments. Reopen it first."), 409)
    except Contention:
        return again(_("The database is busy; nothing was imported. Try again shortly."), 503)
    language = page_language(request)
    context.update(
        step="result" if confirm else "preview",
        target=target,
        result=result,
        errors=[_error_view(e, language) for e in result.errors],
        header_errors=[_error_view(e, language) for e in result.errors if e.row == 1],
        table=_table(sheet, result, language),
        columns=[f for f in FIELDS if f in sheet.headers],
        headers=sheet.headers,
        file_data=base64.b64encode(data).decode("ascii"),
        file_name=name,
        download=_download_payload(result, language) if confirm else "",
        error=None,
    )
    return templates.render(request, TEMPLATE, context)


async def _file_of(form: FormData, step: str) -> tuple[bytes | None, str]:
    """The uploaded file (preview), or the file the preview carried back (confirm)."""
    if step == "confirm":
        try:
            data = base64.b64decode(str(form.get("file_data", "")), validate=True)
        except (binascii.Error, ValueError):
            return None, ""
        return (data or None), str(form.get("file_name", ""))[:200]
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return None, ""
    data = await upload.read()
    return (data or None), (upload.filename or "")[:200]


def _error_view(error: Any, language: str) -> dict[str, Any]:
    return {
        "row": error.row,
        "column": error.column,
        "field": error.field,
        "message": error.message.render(language),
    }


def _table(sheet: Sheet, result: onboarding.ImportResult, language: str) -> list[dict[str, Any]]:
    """Each row as written, its bad cells and messages, and what became (or would become) of it."""
    outcomes = {o.row: o for o in result.outcomes}
    bad: dict[int, dict[str, list[str]]] = {}
    for error in result.errors:
        bad.setdefault(error.row, {}).setdefault(error.field, []).append(
            error.message.render(language)
        )
    rows = []
    for number, cells in sheet.rows:
        outcome = outcomes.get(number)
        rows.append(
            {
                "row": number,
                "cells": cells,
                "bad": bad.get(number, {}),
                "messages": [m for ms in bad.get(number, {}).values() for m in ms],
                "status": outcome.status if outcome else onboarding.INVALID,
                "enrolled": outcome.enrolled if outcome else 0,
                "invitation": outcome.invitation if outcome else None,
                "email": outcome.email if outcome else cells.get("email", ""),
            }
        )
    return rows


DOWNLOAD_COLUMNS = ("row", "email", "full_name", "status", "enrolled", "invitation", "errors")


def _download_payload(result: onboarding.ImportResult, language: str) -> str:
    """The result's rows, as the confirm page carries them to the CSV download."""
    return orjson.dumps(
        [
            {
                "row": o.row,
                "email": o.email,
                "full_name": o.full_name,
                "status": o.status,
                "enrolled": o.enrolled,
                "invitation": o.invitation or "",
                "errors": " ".join(e.message.render(language) for e in o.errors),
            }
            for o in result.outcomes
        ]
    ).decode()


def _download(code: str, payload: str) -> Response:
    try:
        rows = orjson.loads(payload)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, _("Nothing to download: import a file first.")
        ) from None
    labels = {
        "row": _("Row"),
        "email": _("Email"),
        "full_name": _("Name"),
        "status": _("Outcome"),
        "enrolled": _("Enrolments made"),
        "invitation": _("Invitation link"),
        "errors": _("Errors"),
    }
    outcome = {
        onboarding.CREATED: _("Account created"),
        onboarding.EXISTING: _("Already had an account"),
        onboarding.INVALID: _("Not imported"),
    }
    shown = (
        {
            **{k: row.get(k) for k in DOWNLOAD_COLUMNS},
            "status": outcome.get(str(row.get("status")), ""),
        }
        for row in rows
    )

    def chunks() -> Iterator[bytes]:
        # UTF-8 with a BOM for Excel; cells starting like a formula are made text.
        yield from export.csv_chunks(shown, [(k, labels[k]) for k in DOWNLOAD_COLUMNS])

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": content_disposition(f"import-{code}-{stamp}.csv")},
    )
