"""The audit log page for admins: who did what to whom, filtered and paged, with a CSV
download of the same selection."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from ecampus.accounts.tokens import Principal
from ecampus.audit import queries
from ecampus.web.auditfilters import AuditFiltersDep
from ecampus.web.deps import SessionDep, TemplatesDep, require_page_roles

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[Principal, Depends(require_page_roles("admin"))]
PAGE_SIZE = 100
FILTER_NAMES = ("since", "until", "actor", "action", "subject")


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    principal: AdminPage,
    session: SessionDep,
    templates: TemplatesDep,
    filters: AuditFiltersDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    chosen = {k: v for k in FILTER_NAMES if (v := request.query_params.get(k, "").strip())}
    total = queries.count(session, filters)
    rows = queries.entries(session, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    return templates.render(
        request,
        "coordination/audit.html",
        {
            "rows": [{**row, "detail_text": queries.detail_text(row["detail"])} for row in rows],
            "total": total,
            "page": page,
            "pages": pages,
            "first": (page - 1) * PAGE_SIZE + 1,
            "filters": chosen,
            "actions": queries.actions(session),
            "query": urlencode(chosen),
            "newer": urlencode({**chosen, "page": page - 1}) if page > 1 else None,
            "older": urlencode({**chosen, "page": page + 1}) if page < pages else None,
        },
    )
