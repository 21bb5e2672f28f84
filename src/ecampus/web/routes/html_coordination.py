"""Browser pages for coordinators: the completion dashboard and report downloads."""

from __future__ import annotations

import re
from functools import partial
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from ecampus import countries
from ecampus.accounts.models import InstitutionType
from ecampus.audit.service import Acting
from ecampus.courses.catalog import Catalogue
from ecampus.learning import cohorts
from ecampus.onboarding import service as onboarding
from ecampus.reports import dashboard as dashboard_figures
from ecampus.web.dashboard import OptionsDep, over_time_chart, programme_courses, sections
from ecampus.web.deps import (
    CatalogueDep,
    CoordinatorPage,
    FormCsrf,
    SessionDep,
    TemplatesDep,
)
from ecampus.web.filters import FiltersDep
from ecampus.web.pages import page_language
from ecampus.web.templating import Templates
from ecampus.web.templating import gettext as _

router = APIRouter(include_in_schema=False)
SHOWN_ROWS = 200
FILTER_NAMES = (
    "course",
    "course_group",
    "cohort",
    "country",
    "institution_type",
    "since",
    "until",
    "date_field",
    "programme",
    "period",
)


@router.get("/coordinator", response_class=HTMLResponse)
def dashboard(
    request: Request,
    principal: CoordinatorPage,
    catalogue: CatalogueDep,
    session: SessionDep,
    templates: TemplatesDep,
    filters: FiltersDep,
    options: OptionsDep,
) -> HTMLResponse:
    """Figures per course, programme, cohort, country and institution type, counted by the
    database (reports.dashboard), drawn as SVG with a table behind each chart, and the
    latest enrolments of the selection."""
    programmes = programme_courses(catalogue)
    figures = dashboard_figures.compute(
        session, filters, programmes=programmes, programme=options.programme, period=options.period
    )
    rows = dashboard_figures.recent(
        session, filters, programmes=programmes, programme=options.programme, limit=SHOWN_ROWS
    )
    titles = {c.id: c.title for c in catalogue.courses.values()}
    for row in rows:
        row["course_title"] = titles.get(row["course"], row["course"])
    chosen = {k: v for k in FILTER_NAMES if (v := request.query_params.get(k, "").strip())}
    language = page_language(request)
    all_cohorts = cohorts.all_cohorts(session)
    over_time, over_time_rows = over_time_chart(figures, language)
    downloads = {k: v for k, v in chosen.items() if k not in ("period",)}
    return templates.render(
        request,
        "coordination/dashboard.html",
        {
            "figures": figures,
            "sections": sections(figures, catalogue, all_cohorts, language),
            "over_time": over_time,
            "over_time_rows": over_time_rows,
            "active_days": dashboard_figures.ACTIVE_DAYS,
            "rows": rows,
            "row_count": figures.total.enrolled,
            "country_count": sum(1 for line in figures.countries if line.key),
            "courses": list(catalogue.courses.values()),
            "programmes": sorted(catalogue.programmes.values(), key=lambda p: p.title.casefold()),
            "cohorts": all_cohorts,
            "institution_types": [t.value for t in InstitutionType],
            "countries": countries.choices(language),
            "country_names": countries.names(language),
            "filters": chosen,
            "query": urlencode(downloads),
        },
    )


def _cohorts_page(
    request: Request,
    session: Session,
    catalogue: Catalogue,
    templates: Templates,
    *,
    message: str | None = None,
    error: str | None = None,
    outcome: cohorts.BulkEnrolment | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.render(
        request,
        "coordination/cohorts.html",
        {
            "cohorts": cohorts.summaries(session),
            "courses": list(catalogue.courses.values()),
            "programmes": sorted(catalogue.programmes.values(), key=lambda p: p.title),
            "message": message,
            "error": error,
            "outcome": outcome,
            "values": dict(getattr(request.state, "form_values", {})),
        },
        status_code=status_code,
    )


@router.get("/coordinator/cohorts", response_class=HTMLResponse)
def cohorts_page(
    request: Request,
    principal: CoordinatorPage,
    catalogue: CatalogueDep,
    session: SessionDep,
    templates: TemplatesDep,
) -> HTMLResponse:
    return _cohorts_page(request, session, catalogue, templates)


@router.post("/coordinator/cohorts", dependencies=[FormCsrf])
async def cohorts_action(
    request: Request,
    principal: CoordinatorPage,
    catalogue: CatalogueDep,
    session: SessionDep,
    templates: TemplatesDep,
) -> HTMLResponse:
    """Create a cohort, or enrol a list of emails in a course as members of a cohort."""
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    request.state.form_values = values
    page = partial(_cohorts_page, request, session, catalogue, templates)
    if values.get("action") == "create":
        code, name = values.get("code", "").strip(), values.get("name", "").strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", code) or len(name) < 2:
            return page(
                error=_("A cohort needs a code (letters, digits, dots, dashes) and a name."),
                status_code=422,
            )
        try:
            await run_in_threadpool(
                cohorts.create,
                session,
                code=code,
                name=name,
                actor=Acting(principal.user_id, principal.email),
            )
        except cohorts.CohortExists:
            return page(error=_("A cohort with this code already exists."), status_code=409)
        request.state.form_values = {}
        return page(message=_("Cohort %(code)s created.", code=code))
    cohort = cohorts.by_code(session, values.get("cohort", ""))
    # `target` is "course:ID" or "programme:ID"; a bare `course` (older forms) still works.
    chosen = values.get("target") or f"course:{values.get('course', '')}"
    kind, _sep, target_id = chosen.partition(":")
    emails = [e for e in re.split(r"[\s,;]+", values.get("emails", "")) if e]
    try:
        target = onboarding.target_for(
            catalogue,
            course=target_id if kind == "course" else "",
            programme=target_id if kind == "programme" else "",
        )
    except (LookupError, ValueError):
        target = None
    if cohort is None or target is None or not emails:
        return page(
            error=_("Choose a cohort and a course, and list at least one email."), status_code=422
        )
    try:
        outcome = await run_in_threadpool(
            onboarding.enrol_existing,
            session,
            cohort=cohort,
            target=target,
            emails=emails,
            actor=Acting(principal.user_id, principal.email),
        )
    except cohorts.CohortClosed:
        return page(
            error=_("This cohort is closed: it takes no new enrolments. Reopen it first."),
            status_code=409,
        )
    # The banner says whether everything happened (see cohorts.html), so no message here.
    return page(outcome=outcome)
