"""The PDF of an issued certificate: rendered once and kept (`certificate_files`), then
served as kept. A copy kept before the certificate was revoked or superseded is rendered once
more, with the mark, the first time it is asked for afterwards; every process reads the same
row, so they all serve the same copy.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from ecampus.certificates.models import Certificate, CertificateFile
from ecampus.certificates.pdf import (
    CertificateDocument,
    CountedCourse,
    Image,
    Signatory,
    render_certificate_pdf,
)
from ecampus.courses.issuer import IMAGE_TYPES, localized
from ecampus.courses.loader import current_issuer
from ecampus.dbutil import dialect_insert
from ecampus.settings import Settings, get_settings

log = logging.getLogger(__name__)
PDF_LANGUAGES = ("es", "en")
MAX_IMAGE_BYTES = 2_000_000  # a logo or signature larger than this is left out


def marked(certificate: Certificate) -> bool:
    """Whether the certificate's PDF must say it no longer stands: revoked or superseded."""
    return certificate.revoked_at is not None or certificate.superseded_by is not None


def pdf_bytes(
    session: Session, certificate: Certificate, *, settings: Settings | None = None
) -> bytes:
    """The certificate's PDF: the kept copy, or rendered now and kept (in a transaction of
    its own, so the caller's is untouched). Safe to call for many certificates in a row."""
    site = settings or get_settings()
    kept = session.get(CertificateFile, certificate.id)
    if kept is not None and kept.revoked == marked(certificate):
        return kept.pdf
    pdf = render_certificate_pdf(
        document_for(certificate, settings=site), templates_dir=site.templates_dir
    )
    _keep(session, certificate, pdf)
    return pdf


def _keep(session: Session, certificate: Certificate, pdf: bytes) -> None:
    is_marked = marked(certificate)
    statement = dialect_insert(session, CertificateFile).values(
        certificate_id=certificate.id, pdf=pdf, rendered_at=datetime.now(UTC), revoked=is_marked
    )
    table = CertificateFile.__table__.c  # type: ignore[attr-defined]
    statement = statement.on_conflict_do_update(
        index_elements=[table.certificate_id],
        set_={"pdf": pdf, "rendered_at": datetime.now(UTC), "revoked": is_marked},
        # Never replace a marked copy by an unmarked one a slower process rendered earlier.
        where=col(CertificateFile.revoked).is_(False),
    )
    try:
        with Session(session.get_bind()) as writer:
            writer.execute(statement)
            writer.commit()
    except SQLAlchemyError:
        # Keeping is an optimisation: the caller still gets its PDF; the next request renders.
        log.warning("could not keep the PDF of certificate %s", certificate.code, exc_info=True)


def document_for(certificate: Certificate, *, settings: Settings) -> CertificateDocument:
    """What the PDF prints: the frozen facts, the frozen issuer (the current issuer.yaml for
    certificates issued before issuers were kept) and, for a diploma, its courses."""
    language = certificate.language if certificate.language in PDF_LANGUAGES else "es"
    issued = certificate.issued_at
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=UTC)
    issuer = issuer_of(certificate, settings=settings)
    root = settings.courses_dir
    return CertificateDocument(
        code=certificate.code,
        learner_name=certificate.learner_name,
        course_title=certificate.title,
        hours=certificate.hours,
        score=certificate.score,
        issued_at=issued,
        verify_url=f"{settings.base_url}/verify/{certificate.code}",
        language=language,
        revoked=certificate.revoked_at is not None,
        kind=certificate.kind,
        zone=settings.zone,
        issuer_name=localized(issuer.get("name"), language, certificate.language),
        issuer_url=issuer.get("url") or None,
        logo=image_of(root, issuer.get("logo")),
        signatories=tuple(
            Signatory(
                name=str(person.get("name", "")),
                title=localized(person.get("title"), language, certificate.language),
                signature=image_of(root, person.get("signature")),
            )
            for person in issuer.get("signatories") or []
            if isinstance(person, dict)
        ),
        courses=tuple(
            CountedCourse(
                title=str(course.get("title", "")),
                hours=float(course.get("hours") or 0),
                code=course.get("code"),
            )
            for course in certificate.courses or []
            if isinstance(course, dict)
        ),
        orientation="portrait" if issuer.get("orientation") == "portrait" else "landscape",
        superseded_by=certificate.superseded_by,
    )


def issuer_of(certificate: Certificate, *, settings: Settings) -> dict[str, Any]:
    """The issuer frozen on the certificate, or for an older certificate the current
    `issuer.yaml` ({} when there is none)."""
    if certificate.issuer:
        return certificate.issuer
    current = current_issuer(settings.courses_dir)
    return current.frozen() if current is not None else {}


def image_of(root: Path, relative: object) -> Image | None:
    if not isinstance(relative, str) or not relative:
        return None
    path = (root / relative).resolve()
    media_type = IMAGE_TYPES.get(path.suffix.lower())
    if media_type is None or not path.is_relative_to(root.resolve()):
        return None
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return None
        return Image(media_type, path.read_bytes())
    except OSError:
        return None
