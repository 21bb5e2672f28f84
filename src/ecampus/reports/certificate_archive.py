"""The certificates report as a ZIP: an index CSV, then one PDF per certificate named by its
code, streamed. Memory stays flat however many certificates there are: the index streams
from one query, then certificates are read in small batches by id and each PDF is made
(or fetched) and written out before the next one."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from stat import S_IFREG
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from ecampus.certificates.listing import COLUMNS, CertificateFilters, Programmes, rows
from ecampus.certificates.models import Certificate
from ecampus.reports.export import csv_chunks

if TYPE_CHECKING:  # stream_zip (and PyCryptodome under it) is imported when a ZIP is made
    from stream_zip import MemberFile

INDEX_NAME = "index.csv"
INDEX_COLUMNS = (*COLUMNS, ("file", "file"))
BATCH = 50
_MODE = S_IFREG | 0o644

PdfOf = Callable[[Session, Certificate], bytes]


def file_name(code: str) -> str:
    return f"{code}.pdf"


def archive_chunks(
    session: Session,
    filters: CertificateFilters,
    programmes: Programmes,
    *,
    base_url: str,
    pdf_of: PdfOf,
    batch: int = BATCH,
) -> Iterator[bytes]:
    """The ZIP's bytes, in chunks, for the certificates `filters` select."""
    from stream_zip import NO_COMPRESSION_64, ZIP_64, stream_zip

    made = datetime.now(UTC)

    def index() -> Iterator[bytes]:
        listed = rows(session, filters, programmes, base_url=base_url)
        yield from csv_chunks(
            ({**row, "file": file_name(row["code"])} for row in listed), INDEX_COLUMNS
        )

    def members() -> Iterable[MemberFile]:
        yield INDEX_NAME, made, _MODE, ZIP_64, index()
        for certificate in _certificates(session, filters, programmes, base_url, batch):
            pdf = pdf_of(session, certificate)
            method = NO_COMPRESSION_64(len(pdf), zlib.crc32(pdf))  # PDFs are compressed
            yield file_name(certificate.code), _aware(certificate.issued_at), _MODE, method, (pdf,)

    yield from stream_zip(members())


def _certificates(
    session: Session,
    filters: CertificateFilters,
    programmes: Programmes,
    base_url: str,
    batch: int,
) -> Iterator[Certificate]:
    last: int | None = None
    while True:
        ids = [
            row["id"]
            for row in rows(
                session, filters, programmes, base_url=base_url, after_id=last, limit=batch
            )
        ]
        if not ids:
            return
        found: list[Any] = list(
            session.exec(select(Certificate).where(col(Certificate.id).in_(ids)))
        )
        yield from sorted(found, key=lambda c: c.id)
        last = ids[-1]
        # Nothing of a finished batch stays in the session's identity map.
        session.expunge_all()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
