"""Certificate verification (JSON and page), the PDF, and revocation by coordinators."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from ecampus.audit.service import Acting
from ecampus.certificates import revocation
from ecampus.certificates import service as certificates
from ecampus.certificates import verification as verifying
from ecampus.certificates.models import Certificate
from ecampus.settings import Settings
from ecampus.web.certificate_filters import ProgrammesDep
from ecampus.web.deps import ApiCsrf, Coordinator, SessionDep, SettingsDep, TemplatesDep

router = APIRouter(tags=["certificates"])


class RevokeIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


def verification(
    certificate: Certificate | None, settings: Settings | None = None
) -> dict[str, Any]:
    if certificate is None:
        return {"valid": False, "revoked": False}
    return verifying.describe(certificate, settings=settings)


@router.get("/api/v1/certificates/{code}", response_model=None)
def verify_json(
    code: str, session: SessionDep, settings: SettingsDep
) -> dict[str, Any] | JSONResponse:
    """Anyone may verify a code: `status` (valid, revoked or superseded), `kind`, `issuer`,
    learner_name, course_title, hours, score, issued_at, revoked_at and revoked_reason,
    superseded_by, and for a diploma its `courses`."""
    certificate = certificates.by_code(session, code)
    if certificate is None:
        return JSONResponse(
            {"valid": False, "revoked": False, "detail": "No certificate has this code"},
            status_code=status.HTTP_404_NOT_FOUND,
        )
    return verification(certificate, settings)


@router.get("/verify/{code}", response_class=HTMLResponse, include_in_schema=False)
def verify_page(
    code: str, request: Request, session: SessionDep, templates: TemplatesDep, settings: SettingsDep
) -> HTMLResponse:
    certificate = certificates.by_code(session, code)
    issuer = (
        verifying.issuer_for_reader(
            certificate, settings=settings, language=getattr(request.state, "language", None)
        )
        if certificate
        else None
    )
    return templates.render(
        request,
        "certificates/verify.html",
        {
            "code": code,
            "certificate": certificate,
            "info": verification(certificate, settings),
            "issuer": issuer,
        },
        status_code=200 if certificate else 404,
    )


@router.get("/verify", response_class=HTMLResponse, include_in_schema=False)
def verify_lookup(request: Request, templates: TemplatesDep, code: str = "") -> Response:
    if code.strip():
        # Quoted: whatever was typed (€, spaces, a line break) must not break the header.
        target = quote(certificates.normalise_code(code)[:200], safe="")
        return Response(status_code=303, headers={"location": f"/verify/{target}"})
    return templates.render(
        request, "certificates/verify.html", {"code": "", "certificate": None, "info": None}
    )


@router.get("/certificates/{code}.pdf")
async def certificate_pdf(code: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The certificate PDF, for anyone holding the code."""
    certificate = await run_in_threadpool(certificates.by_code, session, code)
    if certificate is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No certificate has this code")
    # Rendered once and kept; a revoked or superseded certificate's copy carries the mark.
    pdf = await run_in_threadpool(certificates.pdf_bytes, session, certificate, settings=settings)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": f'inline; filename="certificate-{certificate.code}.pdf"',
            "cache-control": "private, max-age=300",
        },
    )


@router.post("/api/v1/certificates/{code}/revoke", dependencies=[ApiCsrf])
def revoke(
    code: str,
    body: RevokeIn,
    principal: Coordinator,
    session: SessionDep,
    programmes: ProgrammesDep,
) -> dict[str, Any]:
    """Revoke a certificate; a course certificate takes along every valid diploma that
    counted it (listed in `cascaded`, each revoked with a reason naming this code)."""
    outcome = revocation.revoke(
        session,
        code=code,
        reason=body.reason,
        actor=Acting(principal.user_id, principal.email),
        programmes=programmes,
    )
    if outcome is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No certificate has this code")
    return {**verification(outcome.certificate), "cascaded": [d.code for d in outcome.diplomas]}


@router.post("/api/v1/certificates/{code}/reissue", dependencies=[ApiCsrf])
def reissue(
    code: str, principal: Coordinator, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Issue a new code with the learner's current name; the old code reads `superseded`
    and names the new one in `superseded_by`."""
    from ecampus.audit.service import Acting  # here: keeps this module's imports few

    certificate = certificates.reissue(
        session, code=code, actor=Acting(principal.user_id, principal.email)
    )
    if certificate is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No certificate has this code")
    return verification(certificate, settings)
