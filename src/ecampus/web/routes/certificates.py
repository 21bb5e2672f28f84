"""Certificate verification (JSON and page), the PDF, and revocation by coordinators."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from ecampus.certificates import service as certificates
from ecampus.certificates.models import Certificate
from ecampus.certificates.pdf import CertificateDocument, render_certificate_pdf
from ecampus.web.deps import ApiCsrf, Coordinator, SessionDep, SettingsDep, TemplatesDep

router = APIRouter(tags=["certificates"])


class RevokeIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


def verification(certificate: Certificate | None) -> dict[str, Any]:
    if certificate is None:
        return {"valid": False, "revoked": False}
    revoked = certificate.revoked_at is not None
    issued = certificate.issued_at
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=UTC)
    return {
        "valid": not revoked,
        "revoked": revoked,
        "code": certificate.code,
        "kind": certificate.kind,
        "learner_name": certificate.learner_name,
        "course_title": certificate.title,
        "course_id": certificate.subject_id,
        "hours": certificate.hours,
        "score": certificate.score,
        "issued_at": issued.isoformat(),
        "revoked_at": certificate.revoked_at.isoformat() if certificate.revoked_at else None,
    }


@router.get("/api/v1/certificates/{code}", response_model=None)
def verify_json(code: str, session: SessionDep) -> dict[str, Any] | JSONResponse:
    """Anyone may verify a code: valid, revoked, learner_name, course_title, hours, score..."""
    certificate = certificates.by_code(session, code)
    if certificate is None:
        return JSONResponse(
            {"valid": False, "revoked": False, "detail": "No certificate has this code"},
            status_code=status.HTTP_404_NOT_FOUND,
        )
    return verification(certificate)


@router.get("/verify/{code}", response_class=HTMLResponse, include_in_schema=False)
def verify_page(
    code: str, request: Request, session: SessionDep, templates: TemplatesDep
) -> HTMLResponse:
    certificate = certificates.by_code(session, code)
    return templates.render(
        request,
        "certificates/verify.html",
        {"code": code, "certificate": certificate, "info": verification(certificate)},
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
    issued = certificate.issued_at
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=UTC)
    document = CertificateDocument(
        code=certificate.code,
        learner_name=certificate.learner_name,
        course_title=certificate.title,
        hours=certificate.hours,
        score=certificate.score,
        issued_at=issued,
        verify_url=f"{settings.base_url}/verify/{certificate.code}",
        language=certificate.language if certificate.language in ("es", "en") else "es",
        revoked=certificate.revoked_at is not None,
        kind=certificate.kind,
        zone=settings.zone,
    )
    pdf = await run_in_threadpool(
        render_certificate_pdf, document, templates_dir=settings.templates_dir
    )
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
    code: str, body: RevokeIn, principal: Coordinator, session: SessionDep
) -> dict[str, Any]:
    certificate = certificates.revoke(session, code=code, reason=body.reason)
    if certificate is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No certificate has this code")
    return verification(certificate)


@router.post("/api/v1/certificates/{code}/reissue", dependencies=[ApiCsrf])
def reissue(code: str, principal: Coordinator, session: SessionDep) -> dict[str, Any]:
    """Revoke a certificate and issue a new code with the learner's current name."""
    certificate = certificates.reissue(session, code=code)
    if certificate is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No certificate has this code")
    return verification(certificate)
