"""Open Badges credentials: the issuer's public keys (JWKS), each certificate as a VC-JWT
(and its decoded page, the learner's "digital credential"), and the status lists."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ecampus.certificates import credentials, keys
from ecampus.certificates import service as certificates
from ecampus.certificates.models import Certificate
from ecampus.courses.catalog import Catalogue
from ecampus.settings import Settings
from ecampus.web.deps import CatalogueDep, SessionDep, SettingsDep, TemplatesDep
from ecampus.web.downloads import content_disposition

router = APIRouter(tags=["credentials"])
log = logging.getLogger(__name__)

JWKS_CACHE = "public, max-age=300"  # a rotation shows within five minutes
STATUS_CACHE = f"public, max-age={credentials.STATUS_LIST_SECONDS}"
MAX_LIST = (2**63 - 1) // 131_072  # ids are 64-bit at most
ListNumber = Annotated[int, Path(ge=0, le=MAX_LIST, description="The status list's number")]
_VC_JWT = {credentials.MEDIA_TYPE: {"schema": {"type": "string"}}}


def _site(settings: Settings) -> credentials.Site:
    return credentials.Site(
        base_url=settings.base_url, secret=settings.secret_key, courses_dir=settings.courses_dir
    )


def _summary(catalogue: Catalogue, certificate: Certificate) -> str:
    if certificate.kind == "programme":
        programme = catalogue.programmes.get(certificate.subject_id)
        return programme.summary if programme else ""
    course = catalogue.get(certificate.subject_id)
    return course.summary if course else ""


def _unavailable(error: Exception) -> HTTPException:
    log.error("credentials cannot be signed: %s", error)
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "Credentials cannot be signed right now: the site has no usable signing key",
    )


def _not_issued(certificate: Certificate) -> HTTPException:
    if certificate.superseded_by:
        detail = f"This certificate was replaced by {certificate.superseded_by}"
    else:
        detail = "This certificate was revoked: no credential is issued for it"
    return HTTPException(status.HTTP_410_GONE, detail)


def _credential(
    session: SessionDep, settings: Settings, catalogue: Catalogue, code: str
) -> tuple[Certificate, str, dict[str, Any]]:
    certificate = certificates.by_code(session, code)
    if certificate is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No certificate has this code")
    try:
        token, claims = credentials.issue_credential(
            session, certificate, site=_site(settings), summary=_summary(catalogue, certificate)
        )
    except credentials.NotIssued:
        raise _not_issued(certificate) from None
    except (keys.NoSigningKey, keys.UnreadableKey) as error:
        raise _unavailable(error) from None
    return certificate, token, claims


@router.get("/.well-known/jwks.json")
def jwks(session: SessionDep) -> JSONResponse:
    """The public keys that sign credentials, current and retired (RFC 7517)."""
    return JSONResponse(
        keys.jwks(session),
        media_type="application/jwk-set+json",
        headers={"cache-control": JWKS_CACHE},
    )


@router.get(
    "/api/v1/certificates/{code}/credential",
    response_class=Response,
    responses={
        200: {"content": _VC_JWT, "description": "The signed OpenBadgeCredential"},
        410: {"description": "The certificate was revoked or superseded"},
    },
)
def credential(
    code: str, session: SessionDep, settings: SettingsDep, catalogue: CatalogueDep
) -> Response:
    """The certificate as an Open Badges 3.0 `OpenBadgeCredential` in VC-JWT form, signed
    ES256 (its `kid` is in /.well-known/jwks.json), for anyone holding the code. 410 for a
    revoked or superseded certificate."""
    certificate, token, _claims = _credential(session, settings, catalogue, code)
    return Response(
        token,
        media_type=credentials.MEDIA_TYPE,
        headers={
            "content-disposition": content_disposition(f"credential-{certificate.code}.jwt"),
            "cache-control": "private, max-age=300",
        },
    )


@router.get(
    "/api/v1/credentials/status/{list_number}",
    response_class=Response,
    responses={200: {"content": _VC_JWT, "description": "The BitstringStatusListCredential"}},
)
def status_list(list_number: ListNumber, session: SessionDep, settings: SettingsDep) -> Response:
    """The status list credential (VC-JWT): the bit of each revoked or superseded
    certificate of the list is set. A certificate's bit is its `statusListIndex`."""
    try:
        token = credentials.sign_status_list(session, site=_site(settings), list_number=list_number)
    except (keys.NoSigningKey, keys.UnreadableKey) as error:
        raise _unavailable(error) from None
    return Response(
        token, media_type=credentials.MEDIA_TYPE, headers={"cache-control": STATUS_CACHE}
    )


@router.get("/certificates/{code}/credential", response_class=HTMLResponse, include_in_schema=False)
def credential_page(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    templates: TemplatesDep,
) -> HTMLResponse:
    """The learner's digital credential: what it says (decoded), and the file to download."""
    certificate, token, claims = _credential(session, settings, catalogue, code)
    return templates.render(
        request,
        "certificates/credential.html",
        {
            "certificate": certificate,
            "token": token,
            "payload": json.dumps(claims, ensure_ascii=False, indent=2),
            "jwks_url": f"{settings.base_url}/.well-known/jwks.json",
        },
        headers={"cache-control": "private, max-age=300"},
    )
