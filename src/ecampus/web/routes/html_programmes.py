"""The coordinator's programme page: each participant's way through a programme, per cohort."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ecampus import countries
from ecampus.accounts.models import InstitutionType
from ecampus.learning import cohorts
from ecampus.reports.programmes import programme_rows
from ecampus.web.deps import CatalogueDep, CoordinatorPage, SessionDep, TemplatesDep
from ecampus.web.filters import ProgrammeFiltersDep
from ecampus.web.pages import page_language

router = APIRouter(include_in_schema=False)
SHOWN_ROWS = 500
FILTER_NAMES = ("programme", "cohort", "country", "institution_type")


@router.get("/coordinator/programmes", response_class=HTMLResponse)
def programmes_page(
    request: Request,
    principal: CoordinatorPage,
    catalogue: CatalogueDep,
    session: SessionDep,
    templates: TemplatesDep,
    filters: ProgrammeFiltersDep,
) -> HTMLResponse:
    """One line per participant: courses and hours completed, last activity, diploma."""
    rows: list[dict[str, Any]] = []
    statuses: Counter[str] = Counter()
    diplomas = 0
    for row in programme_rows(
        session,
        programmes=list(catalogue.programmes.values()),
        courses=dict(catalogue.courses),
        filters=filters,
    ):
        statuses[row["status"]] += 1
        diplomas += 1 if row["diploma"] else 0
        if len(rows) < SHOWN_ROWS:
            rows.append(row)
    chosen = {k: v for k in FILTER_NAMES if (v := request.query_params.get(k, "").strip())}
    language = page_language(request)
    return templates.render(
        request,
        "coordination/programmes.html",
        {
            "rows": rows,
            "row_count": sum(statuses.values()),
            "statuses": statuses,
            "diplomas": diplomas,
            "programmes": sorted(catalogue.programmes.values(), key=lambda p: p.title.casefold()),
            "cohorts": cohorts.all_cohorts(session),
            "institution_types": [t.value for t in InstitutionType],
            "countries": countries.choices(language),
            "country_names": countries.names(language),
            "filters": chosen,
            "query": urlencode(chosen),
        },
    )
