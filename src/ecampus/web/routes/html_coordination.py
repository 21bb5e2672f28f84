"""Browser pages for coordinators: the completion dashboard and report downloads."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from ecampus.accounts.models import InstitutionType
from ecampus.learning import cohorts
from ecampus.reports.queries import completions, summary
from ecampus.web.deps import CatalogueDep, PageUser, SessionDep, TemplatesDep
from ecampus.web.routes.api_reports import report_filters
from ecampus.web.templating import gettext as _

router = APIRouter(include_in_schema=False)


@router.get("/coordinator", response_class=HTMLResponse)
def dashboard(
    request: Request,
    principal: PageUser,
    catalogue: CatalogueDep,
    session: SessionDep,
    templates: TemplatesDep,
) -> HTMLResponse:
    if not principal.has_role("coordinator"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, _("This page is for coordinators."))
    params = request.query_params
    try:
        filters = report_filters(
            course=params.get("course") or None,
            cohort=params.get("cohort") or None,
            country=(params.get("country") or None),
            institution_type=InstitutionType(params["institution_type"])
            if params.get("institution_type")
            else None,
            since=_date(params.get("since")),
            until=_date(params.get("until")),
            date_field="completed_at"
            if params.get("date_field") == "completed_at"
            else "enrolled_at",
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    titles = {c.id: c.title for c in catalogue.courses.values()}
    rows = list(completions(session, filters=filters, titles=titles))
    return templates.render(
        request,
        "coordination/dashboard.html",
        {
            "summary": summary(rows),
            "rows": rows[:200],
            "row_count": len(rows),
            "courses": list(catalogue.courses.values()),
            "cohorts": cohorts.all_cohorts(session),
            "institution_types": [t.value for t in InstitutionType],
            "filters": {k: v for k, v in params.items() if v},
            "query": str(request.url.query),
        },
    )


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(_("Dates are written YYYY-MM-DD.")) from None
