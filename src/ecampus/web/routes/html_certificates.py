"""The coordinator's certificates page: a list with the certificates report's filters, one
certificate with its actions, and a revocation confirmed on a page that names the diplomas
going with it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from ecampus.audit.service import Acting
from ecampus.certificates import listing, revocation
from ecampus.certificates import service as certificates
from ecampus.certificates.listing import KINDS, STATUSES
from ecampus.certificates.models import Certificate
from ecampus.learning import cohorts
from ecampus.web.certificate_filters import CertificateFiltersDep, ProgrammesDep
from ecampus.web.deps import (
    CatalogueDep,
    CoordinatorPage,
    FormCsrf,
    SessionDep,
    SettingsDep,
    TemplatesDep,
)
from ecampus.web.templating import Templates
from ecampus.web.templating import gettext as _

router = APIRouter(include_in_schema=False)
SHOWN_ROWS = 200
FILTER_NAMES = ("q", "course", "programme", "cohort", "kind", "status", "since", "until")
TEMPLATE = "coordination/certificates.html"


@router.get("/coordinator/certificates", response_class=HTMLResponse)
def certificates_page(
    request: Request,
    principal: CoordinatorPage,
    catalogue: CatalogueDep,
    session: SessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    filters: CertificateFiltersDep,
    programmes: ProgrammesDep,
    code: str = "",
) -> HTMLResponse:
    """With `code`, that certificate and its actions; otherwise the filtered list."""
    if code.strip():
        certificate = certificates.by_code(session, code)
        return _one(
            request,
            templates,
            code=code,
            certificate=certificate,
            status_code=200 if certificate else 404,
            error=None if certificate else _("No certificate has the code %(code)s.", code=code),
        )
    chosen = {k: v for k in FILTER_NAMES if (v := request.query_params.get(k, "").strip())}
    shown = list(
        listing.rows(
            session,
            filters,
            programmes,
            base_url=settings.base_url,
            newest_first=True,
            limit=SHOWN_ROWS,
        )
    )
    total = len(shown) if len(shown) < SHOWN_ROWS else listing.count(session, filters, programmes)
    return templates.render(
        request,
        TEMPLATE,
        {
            "view": "list",
            "rows": shown,
            "total": total,
            "filters": chosen,
            "query": urlencode(chosen),
            "courses": list(catalogue.courses.values()),
            "programmes": list(catalogue.programmes.values()),
            "cohorts": cohorts.all_cohorts(session),
            "kinds": KINDS,
            "statuses": STATUSES,
        },
    )


def _one(
    request: Request,
    templates: Templates,
    *,
    code: str,
    certificate: Certificate | None,
    message: str | None = None,
    error: str | None = None,
    cascaded: list[Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.render(
        request,
        TEMPLATE,
        {
            "view": "one",
            "code": code,
            "certificate": certificate,
            "status": listing.status_of(certificate) if certificate else None,
            "message": message,
            "error": error,
            "cascaded": cascaded or [],
        },
        status_code=status_code,
    )


@router.post("/coordinator/certificates", dependencies=[FormCsrf])
async def certificates_action(
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
    programmes: ProgrammesDep,
) -> HTMLResponse:
    """Revoke (with a reason, after a confirmation page naming the diplomas that go with
    it) or reissue a certificate."""
    form = await request.form()
    code = str(form.get("code", ""))
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")).strip()
    if action == "revoke":
        plan = await run_in_threadpool(revocation.plan, session, code=code, programmes=programmes)
        if plan is None:
            return _one(
                request,
                templates,
                code=code,
                certificate=None,
                status_code=422,
                error=_("No certificate has this code."),
            )
        if not 3 <= len(reason) <= revocation.REASON_LIMIT:
            return _one(
                request,
                templates,
                code=code,
                certificate=plan.certificate,
                status_code=422,
                error=_("Say why the certificate is revoked (at least 3 characters)."),
            )
        if form.get("confirm") != "yes":
            return templates.render(
                request,
                TEMPLATE,
                {
                    "view": "confirm",
                    "certificate": plan.certificate,
                    "reason": reason,
                    "diplomas": plan.diplomas,
                    "already": plan.certificate.revoked_at is not None,
                },
            )
        outcome = await run_in_threadpool(
            revocation.revoke,
            session,
            code=code,
            reason=reason,
            actor=Acting(principal.user_id, principal.email),
            programmes=programmes,
        )
        if outcome is None:
            return _one(
                request,
                templates,
                code=code,
                certificate=None,
                status_code=422,
                error=_("No certificate has this code."),
            )
        return _one(
            request,
            templates,
            code=outcome.certificate.code,
            certificate=outcome.certificate,
            message=_("Certificate revoked."),
            cascaded=outcome.diplomas,
        )
    if action == "reissue":
        fresh = await run_in_threadpool(
            certificates.reissue,
            session,
            code=code,
            actor=Acting(principal.user_id, principal.email),
        )
        if fresh is not None:
            return _one(
                request,
                templates,
                code=fresh.code,
                certificate=fresh,
                message=_("A new certificate was issued; the old code now reads “superseded”."),
            )
    return _one(
        request,
        templates,
        code=code,
        certificate=None,
        status_code=422,
        error=_("No certificate has this code."),
    )
