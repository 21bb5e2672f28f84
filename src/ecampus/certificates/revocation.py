"""Revocation that follows through: revoking a course certificate revokes every valid
diploma that counted it, each with a reason naming the course certificate, all in one
transaction with one audit entry per certificate revoked.

Which diplomas counted a course certificate: those whose `certificate_parts` name it or
another certificate of the same course (a reissued one); for a diploma issued before that
table was filled, its frozen `courses` list, else the catalogue's programme (same learner,
programme containing the course).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from ecampus.audit import service as audit
from ecampus.certificates.listing import Programmes
from ecampus.certificates.models import Certificate, CertificatePart
from ecampus.certificates.service import by_code
from ecampus.dbretry import run_transaction
from ecampus.i18n import N_, Message

ACTION = "certificate.revoke"
REASON_LIMIT = 500  # the column's length
CASCADE_REASON = N_("Revoked because certificate %(code)s of the course “%(course)s” was revoked.")
NO_PROGRAMMES = Programmes(courses={})


@dataclass(frozen=True, slots=True)
class Revocation:
    certificate: Certificate
    # The diplomas revoked with it (or, from `plan`, those that would be).
    diplomas: list[Certificate] = field(default_factory=list)


def diplomas_counting(
    session: Session, certificate: Certificate, programmes: Programmes = NO_PROGRAMMES
) -> list[Certificate]:
    """The learner's valid diplomas that counted this course certificate."""
    if certificate.kind != "course":
        return []
    candidates = list(
        session.scalars(
            select(Certificate)
            .where(
                col(Certificate.user_id) == certificate.user_id,
                col(Certificate.kind) == "programme",
                col(Certificate.revoked_at).is_(None),
                col(Certificate.superseded_by).is_(None),
            )
            .order_by(col(Certificate.id))
        )
    )
    if not candidates:
        return []
    parts: dict[int, set[tuple[int, str]]] = {}
    for diploma_id, part_id, subject in session.execute(
        select(col(CertificatePart.diploma_id), col(Certificate.id), col(Certificate.subject_id))
        .join(Certificate, col(Certificate.id) == col(CertificatePart.certificate_id))
        .where(col(CertificatePart.diploma_id).in_([d.id for d in candidates]))
    ):
        parts.setdefault(diploma_id, set()).add((part_id, subject))
    return [d for d in candidates if _counted(d, certificate, parts.get(d.id or 0), programmes)]


def _counted(
    diploma: Certificate,
    certificate: Certificate,
    parts: set[tuple[int, str]] | None,
    programmes: Programmes,
) -> bool:
    if parts is not None:
        return any(
            pid == certificate.id or subject == certificate.subject_id for pid, subject in parts
        )
    if diploma.courses:
        counted = {certificate.subject_id, certificate.code}
        return any(
            entry.get("course_id") in counted or entry.get("code") in counted
            for entry in diploma.courses
            if isinstance(entry, dict)
        )
    return certificate.subject_id in programmes.of(diploma.subject_id)


def plan(
    session: Session, *, code: str, programmes: Programmes = NO_PROGRAMMES
) -> Revocation | None:
    """What revoking `code` would revoke, changing nothing (for the confirmation page)."""
    certificate = by_code(session, code)
    if certificate is None:
        return None
    return Revocation(certificate, diplomas_counting(session, certificate, programmes))


def cascade_reason(certificate: Certificate, language: str) -> str:
    message = Message(CASCADE_REASON, {"code": certificate.code, "course": certificate.title})
    return message.render(language if language in ("es", "en") else "es")[:REASON_LIMIT]


def revoke(
    session: Session,
    *,
    code: str,
    reason: str,
    actor: audit.Actor | str | None,
    programmes: Programmes = NO_PROGRAMMES,
) -> Revocation | None:
    """Revoke a certificate and the valid diplomas that counted it, committed together.
    Revoking a certificate already revoked still takes along the diplomas left valid."""

    def work() -> Revocation | None:
        certificate = by_code(session, code)
        if certificate is None:
            return None
        now = datetime.now(UTC)
        if certificate.revoked_at is None:
            certificate.revoked_at = now
            certificate.revoked_reason = reason[:REASON_LIMIT]
            session.add(certificate)
            audit.record(session, actor, ACTION, certificate.code, _detail(certificate, reason))
        diplomas = diplomas_counting(session, certificate, programmes)
        for diploma in diplomas:
            diploma.revoked_at = now
            diploma.revoked_reason = cascade_reason(certificate, diploma.language)
            session.add(diploma)
            audit.record(
                session,
                actor,
                ACTION,
                diploma.code,
                {**_detail(diploma, diploma.revoked_reason), "because_of": certificate.code},
            )
        session.commit()
        return Revocation(certificate, diplomas)

    return run_transaction(session, work)


def _detail(certificate: Certificate, reason: str) -> dict[str, object]:
    return {
        "kind": certificate.kind,
        "subject": certificate.subject_id,
        "learner": certificate.learner_name,
        "reason": reason,
    }
