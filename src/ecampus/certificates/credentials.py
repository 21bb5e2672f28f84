"""Certificates as Open Badges 3.0 credentials (`OpenBadgeCredential`, W3C VC data model
2.0) in VC-JWT form, and the status list credential that says which are revoked.

The JWT payload is the credential itself, with the registered claims a JWT verifier reads
(`iss` = issuer.id, `sub` = credentialSubject.id, `nbf` = validFrom, `jti` = id). Signed
with the current key of ecampus.certificates.keys through ecampus.accounts.tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from ecampus.accounts.tokens import sign_credential
from ecampus.certificates import keys, status
from ecampus.certificates.models import Certificate
from ecampus.courses.issuer import IMAGE_TYPES, localized
from ecampus.i18n import N_, Message, render

MEDIA_TYPE = "application/vc+jwt"
JOSE_TYPE = "vc+jwt"  # the `typ` header (VC-JOSE-COSE)
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
STATUS_LIST_SECONDS = 60  # how long a fetched status list may be trusted (and cached)
# A logo is embedded (data: URI) so that the credential shows its issuer offline; a larger
# file is left out rather than bloating every credential.
MAX_EMBEDDED_IMAGE_BYTES = 64 * 1024


class NotIssued(Exception):
    """The certificate is revoked or superseded: no new credential is signed for it."""


@dataclass(frozen=True, slots=True)
class Site:
    """What a credential needs from the settings."""

    base_url: str
    secret: str
    courses_dir: Path


def learner_id(*, secret: str, user_id: int) -> str:
    """A stable `urn:uuid:` for a learner, derived from the account id and the secret key:
    the same for every credential of theirs, and telling nothing (no email, no id)."""
    digest = hmac.new(secret.encode(), f"ecampus:learner:{user_id}".encode(), hashlib.sha256)
    return uuid.UUID(bytes=digest.digest()[:16], version=4).urn


def certificate_url(base_url: str, code: str) -> str:
    return f"{base_url}/verify/{code}"


def status_list_url(base_url: str, list_number: int) -> str:
    return f"{base_url}/api/v1/credentials/status/{list_number}"


def _instant(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return _instant(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _image(site: Site, relative: str | None) -> dict[str, str] | None:
    """The issuer's logo as an OB `Image` with a data: URI, when it is small enough."""
    if not relative:
        return None
    path = (site.courses_dir / relative).resolve()
    media_type = IMAGE_TYPES.get(path.suffix.lower())
    if media_type is None or not path.is_relative_to(site.courses_dir.resolve()):
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) > MAX_EMBEDDED_IMAGE_BYTES:
        return None
    encoded = base64.b64encode(data).decode("ascii")
    return {"id": f"data:{media_type};base64,{encoded}", "type": "Image"}


def issuer_profile(certificate: Certificate, site: Site) -> dict[str, Any]:
    """The OB `Profile` of the issuer, from the issuer frozen on the certificate."""
    frozen = certificate.issuer or {}
    profile: dict[str, Any] = {
        "id": site.base_url,
        "type": ["Profile"],
        "name": localized(frozen.get("name"), certificate.language) or site.base_url,
        "url": frozen.get("url") or site.base_url,
    }
    image = _image(site, frozen.get("logo"))
    if image is not None:
        profile["image"] = image
    return profile


def _narrative(certificate: Certificate, summary: str) -> str:
    language = certificate.language
    if certificate.kind == "programme":
        lead = summary or render(
            Message(
                N_("Completed every course of the programme %(title)s."),
                {"title": certificate.title},
            ),
            language,
        )
        lines = [
            render(
                Message(
                    N_("%(title)s (%(hours)s h)"),
                    {"title": c.get("title", ""), "hours": c.get("hours", 0)},
                ),
                language,
            )
            for c in certificate.courses or []
        ]
        if not lines:
            return lead
        heading = render(Message(N_("Courses it counts:")), language)
        return "\n".join([lead, "", heading, *(f"- {line}" for line in lines)])
    return summary or render(
        Message(
            N_("Completed every lesson and passed every quiz of the course %(title)s."),
            {"title": certificate.title},
        ),
        language,
    )


def _achievement(certificate: Certificate, site: Site, summary: str) -> dict[str, Any]:
    if certificate.kind == "programme":
        achievement_id = f"{site.base_url}/#programme-{certificate.subject_id}"
        kind = "Diploma"
    else:
        achievement_id = f"{site.base_url}/courses/{certificate.subject_id}"
        kind = "Certificate"
    achievement: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": kind,
        "name": certificate.title,
        "description": summary or certificate.title,
        "criteria": {"narrative": _narrative(certificate, summary)},
        # Open Badges' credit hours carry the certificate's hours of study.
        "creditsAvailable": certificate.hours,
        "humanCode": certificate.subject_id,
        "inLanguage": certificate.language,
    }
    if certificate.score is not None:
        achievement["resultDescription"] = [
            {
                "id": f"{achievement_id}#score",
                "type": ["ResultDescription"],
                "name": render(Message(N_("Score")), certificate.language),
                "resultType": "Percent",
                "valueMin": "0",
                "valueMax": "100",
            }
        ]
    return achievement


def _score(value: float) -> str:
    return f"{value:g}"


def credential_claims(certificate: Certificate, *, site: Site, summary: str = "") -> dict[str, Any]:
    """The credential (payload of the VC-JWT) of a certificate."""
    if certificate.id is None:
        raise ValueError("the certificate has not been stored")
    issued = _instant(certificate.issued_at)
    credential_id = certificate_url(site.base_url, certificate.code)
    subject_id = learner_id(secret=site.secret, user_id=certificate.user_id)
    list_number, index = status.position(certificate.id)
    list_url = status_list_url(site.base_url, list_number)
    achievement = _achievement(certificate, site, summary)
    subject: dict[str, Any] = {
        "id": subject_id,
        "type": ["AchievementSubject"],
        # The learner's name as printed on the certificate: what an employer compares with
        # the person in front of them. Never the email.
        "identifier": [
            {
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": False,
                "identityHash": certificate.learner_name,
            }
        ],
        "achievement": achievement,
        "creditsEarned": certificate.hours,
    }
    if certificate.score is not None:
        subject["result"] = [
            {
                "type": ["Result"],
                "resultDescription": f"{achievement['id']}#score",
                "value": _score(certificate.score),
            }
        ]
    claims: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": certificate.title,
        "issuer": issuer_profile(certificate, site),
        "validFrom": _iso(issued),
        "credentialSubject": subject,
        "credentialStatus": {
            "id": f"{list_url}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": status.PURPOSE,
            "statusListIndex": str(index),
            "statusListCredential": list_url,
        },
    }
    if certificate.kind == "programme" and certificate.courses:
        claims["evidence"] = [
            {
                "id": certificate_url(site.base_url, str(c["code"])),
                "type": ["Evidence"],
                "name": str(c.get("title", "")),
                "description": render(
                    Message(
                        N_("Certificate %(code)s: %(hours)s h"),
                        {"code": c["code"], "hours": c.get("hours", 0)},
                    ),
                    certificate.language,
                ),
            }
            for c in certificate.courses
            if c.get("code")
        ]
    # No `iat`: verifiers refuse one ahead of their clock, and the signing time says nothing
    # the issue time (`nbf`) does not.
    claims.update(
        {
            "iss": site.base_url,
            "sub": subject_id,
            "nbf": int(issued.timestamp()),
            "jti": credential_id,
        }
    )
    return claims


def issue_credential(
    session: Session, certificate: Certificate, *, site: Site, summary: str = ""
) -> tuple[str, dict[str, Any]]:
    """The signed VC-JWT of a valid certificate and its payload. NotIssued for a revoked or
    superseded one; keys.NoSigningKey / keys.UnreadableKey when nothing can sign."""
    if certificate.revoked_at is not None or certificate.superseded_at is not None:
        raise NotIssued(certificate.code)
    claims = credential_claims(certificate, site=site, summary=summary)
    signer = keys.signer(session, secret=site.secret)
    return sign_credential(claims, key=signer.key, kid=signer.kid, media_type=JOSE_TYPE), claims


def status_list_claims(
    session: Session, *, site: Site, list_number: int, now: datetime | None = None
) -> dict[str, Any]:
    """The `BitstringStatusListCredential` of one list, its revoked bits set."""
    signed_at = now or datetime.now(UTC)
    url = status_list_url(site.base_url, list_number)
    indexes = status.revoked_indexes(session, list_number=list_number)
    # Built now, so valid from now: no `validFrom`/`nbf` (nor `iat`), which a verifier whose
    # clock is a few seconds behind ours would refuse; `validUntil`/`exp` bound its use.
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": site.base_url,
        "validUntil": _iso(signed_at + timedelta(days=1)),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": status.PURPOSE,
            "encodedList": status.encode(indexes),
            "ttl": STATUS_LIST_SECONDS * 1000,
        },
        "iss": site.base_url,
        "exp": int((signed_at + timedelta(days=1)).timestamp()),
        "jti": url,
    }


def sign_status_list(session: Session, *, site: Site, list_number: int) -> str:
    """The status list credential as a signed VC-JWT."""
    claims = status_list_claims(session, site=site, list_number=list_number)
    signer = keys.signer(session, secret=site.secret)
    return sign_credential(claims, key=signer.key, kid=signer.kid, media_type=JOSE_TYPE)
