"""What anyone holding a code may learn about a certificate: the v1 facts, whether it is
valid, revoked (when and why) or superseded (by which code), who issued it and, for a
diploma, the courses it counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ecampus.certificates.files import image_of, issuer_of
from ecampus.certificates.models import Certificate
from ecampus.courses.issuer import localized
from ecampus.settings import Settings, get_settings

VALID, REVOKED, SUPERSEDED = "valid", "revoked", "superseded"


def status(certificate: Certificate) -> str:
    """valid, revoked, or superseded (reissued under a new code, which it names)."""
    if certificate.superseded_by:
        return SUPERSEDED
    if certificate.revoked_at is not None:
        return REVOKED
    return VALID


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def public_issuer(frozen: dict[str, Any]) -> dict[str, Any] | None:
    """The issuer as the verification JSON shows it: name per language, web address and
    signatories (name and title, as issuer.yaml gives them); no file paths."""
    if not frozen:
        return None
    return {
        "name": frozen.get("name") or {},
        "url": frozen.get("url"),
        "signatories": [
            {"name": person.get("name"), "title": person.get("title")}
            for person in frozen.get("signatories") or []
            if isinstance(person, dict)
        ],
    }


def describe(certificate: Certificate, *, settings: Settings | None = None) -> dict[str, Any]:
    """The verification JSON of `GET /api/v1/certificates/{code}`."""
    state = status(certificate)
    info: dict[str, Any] = {
        "valid": state == VALID,
        "revoked": certificate.revoked_at is not None,
        "status": state,
        "code": certificate.code,
        "kind": certificate.kind,
        "learner_name": certificate.learner_name,
        "course_title": certificate.title,
        "course_id": certificate.subject_id,
        "hours": certificate.hours,
        "score": certificate.score,
        "issued_at": _iso(certificate.issued_at),
        "revoked_at": _iso(certificate.revoked_at),
        "revoked_reason": certificate.revoked_reason,
        "superseded_by": certificate.superseded_by,
        "superseded_at": _iso(certificate.superseded_at),
        "issuer": public_issuer(issuer_of(certificate, settings=settings or get_settings())),
    }
    if certificate.kind == "programme":
        info["courses"] = [
            {
                "course_id": course.get("course_id"),
                "title": course.get("title"),
                "hours": course.get("hours"),
                "code": course.get("code"),
            }
            for course in certificate.courses or []
            if isinstance(course, dict)
        ]
    return info


def issuer_for_reader(
    certificate: Certificate, *, settings: Settings, language: str | None
) -> dict[str, Any] | None:
    """The issuer as the verification page shows it: the name in the reader's language
    first, then the certificate's; the logo and signatures as data: URIs."""
    frozen = issuer_of(certificate, settings=settings)
    if not frozen:
        return None
    root = settings.courses_dir
    logo = image_of(root, frozen.get("logo"))
    return {
        "name": localized(frozen.get("name"), language, certificate.language),
        "url": frozen.get("url"),
        "logo": logo.uri if logo else None,
        "signatories": [
            {
                "name": person.get("name"),
                "title": localized(person.get("title"), language, certificate.language),
                "signature": signature.uri
                if (signature := image_of(root, person.get("signature")))
                else None,
            }
            for person in frozen.get("signatories") or []
            if isinstance(person, dict)
        ],
    }
