"""Certificates: issued on completion, verifiable by code, revocable and reissuable.

Issuing never commits: a certificate is written in the transaction of the completion that
earns it, so the two are kept together or not at all (see ecampus.progression).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from statistics import fmean
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from ecampus.accounts.models import User
from ecampus.audit import service as audit
from ecampus.certificates import files
from ecampus.certificates.models import Certificate, CertificatePart
from ecampus.courses.content import CourseContent, ProgrammeContent
from ecampus.dbutil import dialect_insert
from ecampus.learning.models import Enrollment
from ecampus.settings import Settings

# Crockford's alphabet: no I, L, O or U, so a code read aloud or typed is hard to get wrong.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(code: str) -> str:
    cleaned = code.strip().upper().replace("O", "0").replace("I", "1").replace("L", "1")
    cleaned = "".join(c for c in cleaned if c in _ALPHABET)
    return f"{cleaned[:4]}-{cleaned[4:8]}-{cleaned[8:]}" if len(cleaned) == 12 else code.strip()


def by_code(session: Session, code: str) -> Certificate | None:
    return session.scalars(
        select(Certificate).where(Certificate.code == normalise_code(code))  # type: ignore[arg-type]
    ).first()


def current_for(
    session: Session, *, user_id: int, kind: str, subject_id: str
) -> Certificate | None:
    """The learner's valid (not revoked) certificate for a course or programme."""
    return session.scalars(
        select(Certificate)
        .where(
            Certificate.user_id == user_id,  # type: ignore[arg-type]
            Certificate.kind == kind,  # type: ignore[arg-type]
            Certificate.subject_id == subject_id,  # type: ignore[arg-type]
            Certificate.revoked_at.is_(None),  # type: ignore[union-attr]
        )
        .order_by(Certificate.issued_at.desc())  # type: ignore[attr-defined]
    ).first()


def _ever_issued(session: Session, *, user_id: int, kind: str, subject_id: str) -> bool:
    return (
        session.scalars(
            select(col(Certificate.id)).where(
                col(Certificate.user_id) == user_id,
                col(Certificate.kind) == kind,
                col(Certificate.subject_id) == subject_id,
            )
        ).first()
        is not None
    )


def _issue(
    session: Session,
    *,
    user: User,
    kind: str,
    subject_id: str,
    title: str,
    hours: float,
    score: float | None,
    language: str,
    version: str = "",
    after_revocation: bool = False,
    issued_at: datetime | None = None,
    issuer: dict[str, Any] | None = None,
    courses: list[dict[str, Any]] | None = None,
    parts: list[int] | None = None,
) -> Certificate | None:
    """Issue once, in the caller's transaction (no commit). A revoked certificate is not
    replaced by learner activity: only a coordinator's reissue (after_revocation=True) makes
    a new one. `issuer` and a diploma's `courses` are frozen on it, and `parts` (the ids of
    the course certificates a diploma counts) written beside it."""
    user_id = user.id or 0
    existing = current_for(session, user_id=user_id, kind=kind, subject_id=subject_id)
    if existing is not None:
        return existing
    if not after_revocation and _ever_issued(
        session, user_id=user_id, kind=kind, subject_id=subject_id
    ):
        return None
    for _ in range(5):
        # ON CONFLICT DO NOTHING rather than catching IntegrityError: on PostgreSQL a failed
        # insert would abort the whole transaction, and with it the completion being saved.
        statement = (
            dialect_insert(session, Certificate)
            .values(
                code=new_code(),
                user_id=user_id,
                kind=kind,
                subject_id=subject_id,
                learner_name=user.full_name,
                title=title,
                hours=hours,
                score=score,
                language=language,
                content_version=version,
                issued_at=issued_at or datetime.now(UTC),
                issuer=issuer,
                courses=courses,
            )
            .on_conflict_do_nothing()
            .returning(Certificate)
        )
        certificate: Certificate | None = session.scalars(statement).first()
        if certificate is not None:
            if parts and certificate.id is not None:
                session.execute(
                    dialect_insert(session, CertificatePart)
                    .values([{"diploma_id": certificate.id, "certificate_id": p} for p in parts])
                    .on_conflict_do_nothing()
                )
            return certificate
        # A concurrent completion issued it first (return theirs), or the code was taken.
        current = current_for(session, user_id=user_id, kind=kind, subject_id=subject_id)
        if current is not None:
            return current
    raise RuntimeError("could not draw a unique certificate code")  # pragma: no cover


def issue_for_course(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    score: float | None,
    issued_at: datetime | None = None,
) -> Certificate | None:
    """The learner's certificate for a completed course (no commit)."""
    if not course.certificate:
        return None
    user = session.get(User, user_id)
    if user is None:
        return None
    return _issue(
        session,
        user=user,
        kind="course",
        subject_id=course.id,
        title=course.title,
        hours=course.hours,
        score=score,
        language=course.language,
        version=course.version,
        issued_at=issued_at,
        issuer=course.issuer.frozen() if course.issuer is not None else None,
    )


def _counted(
    session: Session, *, user_id: int, programme: ProgrammeContent
) -> tuple[list[dict[str, Any]], list[int]]:
    """A diploma's courses as frozen on it ({course_id, title, hours, code}: the learner's
    valid course certificate, else the catalogue's title and hours), and the ids of those
    course certificates."""
    held = {
        c.subject_id: c
        for c in session.scalars(
            select(Certificate).where(
                col(Certificate.user_id) == user_id,
                col(Certificate.kind) == "course",
                col(Certificate.subject_id).in_(programme.courses),
                col(Certificate.revoked_at).is_(None),
            )
        )
    }
    known = {course_id: (title, hours) for course_id, title, hours in programme.parts}
    courses = []
    for course_id in programme.courses:
        certificate = held.get(course_id)
        title, hours = known.get(course_id, (course_id, 0.0))
        courses.append(
            {
                "course_id": course_id,
                "title": certificate.title if certificate else title,
                "hours": certificate.hours if certificate else hours,
                "code": certificate.code if certificate else None,
            }
        )
    return courses, [c.id for c in held.values() if c.id is not None]


def _revoked_courses(session: Session, *, user_id: int, programme: ProgrammeContent) -> set[str]:
    """The programme's courses whose certificate a coordinator revoked (not reissued)."""
    return set(
        session.scalars(
            select(col(Certificate.subject_id)).where(
                col(Certificate.user_id) == user_id,
                col(Certificate.kind) == "course",
                col(Certificate.subject_id).in_(programme.courses),
                col(Certificate.revoked_at).is_not(None),
                col(Certificate.superseded_by).is_(None),
            )
        )
    )


def issue_programmes(
    session: Session,
    *,
    user_id: int,
    programmes: list[ProgrammeContent],
    language: str,
    issued_at: datetime | None = None,
) -> list[Certificate]:
    """Issue each programme diploma whose courses the learner has all completed (no commit)."""
    if not programmes:
        return []
    rows = session.execute(
        select(Enrollment.course_id, Enrollment.score).where(  # type: ignore[call-overload]
            Enrollment.user_id == user_id,
            Enrollment.completed_at.is_not(None),  # type: ignore[union-attr]
        )
    ).all()
    completed: dict[str, float | None] = dict(rows)
    user = session.get(User, user_id)
    issued = []
    for programme in programmes:
        if user is None or not all(c in completed for c in programme.courses):
            continue
        scores = [s for c in programme.courses if (s := completed[c]) is not None]
        existing = current_for(session, user_id=user_id, kind="programme", subject_id=programme.id)
        if existing is not None:
            issued.append(existing)
            continue
        counted, parts = _counted(session, user_id=user_id, programme=programme)
        if _revoked_courses(session, user_id=user_id, programme=programme) & {
            c["course_id"] for c in counted if c["code"] is None
        }:
            continue  # a diploma never stands on a course certificate a coordinator revoked
        diploma = _issue(
            session,
            user=user,
            kind="programme",
            subject_id=programme.id,
            title=programme.title,
            hours=programme.hours,
            score=round(fmean(scores), 2) if scores else None,
            language=programme.language or language,
            issued_at=issued_at,
            issuer=programme.issuer.frozen() if programme.issuer is not None else None,
            courses=counted,
            parts=parts,
        )
        if diploma is not None:
            issued.append(diploma)
    return issued


def revoke(
    session: Session, *, code: str, reason: str, actor: str = "system"
) -> Certificate | None:
    """Revoke a certificate and the diplomas that counted it (ecampus.certificates.revocation
    has the whole story, the catalogue's programmes and the staff member acting)."""
    from ecampus.certificates import revocation  # it builds on this module

    outcome = revocation.revoke(session, code=code, reason=reason, actor=actor)
    return outcome.certificate if outcome else None


def reissue(
    session: Session, *, code: str, actor: audit.Actor | str | None = None
) -> Certificate | None:
    """Issue a fresh certificate with the learner's current name under a new code; the old
    code reads "superseded" and points to the new one. Same issuer, courses and parts."""
    old = by_code(session, code)
    if old is None:
        return None
    user = session.get(User, old.user_id)
    if user is None:
        return None
    now = datetime.now(UTC)
    if old.revoked_at is None:
        old.revoked_at = now
        old.revoked_reason = "reissued"
        session.add(old)
        session.flush()
    parts = list(
        session.scalars(
            select(col(CertificatePart.certificate_id)).where(
                col(CertificatePart.diploma_id) == old.id
            )
        )
    )
    fresh = _issue(
        session,
        user=user,
        kind=old.kind,
        subject_id=old.subject_id,
        title=old.title,
        hours=old.hours,
        score=old.score,
        language=old.language,
        version=old.content_version,
        after_revocation=True,
        issuer=old.issuer,
        courses=old.courses,
        parts=parts,
    )
    if fresh is not None and fresh.code != old.code and old.superseded_by is None:
        old.superseded_by = fresh.code
        old.superseded_at = now
        session.add(old)
        audit.record(session, actor, "certificate.reissue", old.code, {"superseded_by": fresh.code})
    session.commit()
    return fresh


def pdf_bytes(
    session: Session, certificate: Certificate, *, settings: Settings | None = None
) -> bytes:
    """The certificate's PDF, rendered once and kept (ecampus.certificates.files)."""
    return files.pdf_bytes(session, certificate, settings=settings)


def of_user(session: Session, *, user_id: int) -> list[Certificate]:
    return list(
        session.scalars(
            select(Certificate)
            .where(Certificate.user_id == user_id)  # type: ignore[arg-type]
            .order_by(Certificate.issued_at)  # type: ignore[arg-type]
        )
    )
