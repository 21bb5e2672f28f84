"""Browser pages for coordinators: the completion dashboard and report downloads."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from ecampus.accounts.models import InstitutionType
from ecampus.learning import cohorts
from ecampus.reports.queries import completions, summary
from ecampus.web.deps import CatalogueDep, PageUser, SessionDep, TemplatesDep
from ecampus.web.routes.api_reports import FiltersDep
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
)


@router.get("/coordinator", response_class=HTMLResponse)
def dashboard(
    request: Request,
    principal: PageUser,
    catalogue: CatalogueDep,
    session: SessionDep,
    templates: TemplatesDep,
    filters: FiltersDep,
) -> HTMLResponse:
    if not principal.has_role("coordinator"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, _("This page is for coordinators."))
    titles = {c.id: c.title for c in catalogue.courses.values()}
    groups = {c.id: catalogue.group_key(c.id) for c in catalogue.courses.values()}
    rows = list(completions(session, filters=filters, titles=titles, groups=groups))
    chosen = {k: v for k in FILTER_NAMES if (v := request.query_params.get(k, "").strip())}
    return templates.render(
        request,
        "coordination/dashboard.html",
        {
            "summary": summary(rows),
            "rows": rows[:SHOWN_ROWS],
            "row_count": len(rows),
            "courses": list(catalogue.courses.values()),
            "cohorts": cohorts.all_cohorts(session),
            "institution_types": [t.value for t in InstitutionType],
            "filters": chosen,
            "query": urlencode(chosen),
        },
    )
