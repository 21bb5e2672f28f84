"""The certificates ZIP streams with flat memory: index.csv first, then one PDF per
certificate named by its code, read in small batches however many there are."""

from __future__ import annotations

import csv
import io
import os
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session

from ecampus.accounts import service as accounts
from ecampus.accounts.schemas import RegisterIn
from ecampus.certificates.listing import CertificateFilters, Programmes
from ecampus.certificates.models import Certificate
from ecampus.db import make_engine
from ecampus.reports.certificate_archive import archive_chunks
from tests import factories

COUNT = 240
PDF = b"%PDF-1.7\n" + os.urandom(256 * 1024)  # one stand-in PDF, as large as a real one


def test_the_zip_of_many_certificates_streams_in_flat_memory(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            user = accounts.create_user(
                session, data=RegisterIn(**factories.profile(full_name="Ana García"))
            )
            session.execute(
                insert(Certificate),
                [
                    {"code": f"TEST-{n:04d}-0000", "user_id": user.id, "kind": "course",
                     "subject_id": f"curso-{n}", "learner_name": "Ana García", "title": f"Curso {n}",
                     "hours": 2, "issued_at": datetime(2026, 3, 1, tzinfo=UTC)}
                    for n in range(COUNT)
                ],
            )  # fmt: skip
            session.commit()
        served: list[str] = []

        def pdf_of(_session: Session, certificate: Certificate) -> bytes:
            served.append(certificate.code)
            return PDF

        target = tmp_path / "certificates.zip"
        with Session(engine) as session, target.open("wb") as out:
            chunks = archive_chunks(
                session, CertificateFilters(q="ana garcia"), Programmes({}),
                base_url="http://testserver", pdf_of=pdf_of, batch=25,
            )  # fmt: skip
            # Written to disk as it comes, so what is traced is the stream's own memory.
            tracemalloc.start()
            try:
                for chunk in chunks:
                    out.write(chunk)
                _current, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        size = target.stat().st_size
        assert size > COUNT * len(PDF)  # about 60 MB went through
        assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for {size / 2**20:.0f} MiB"
        assert served == sorted(served)  # one at a time, in issue order, each once
        assert len(served) == COUNT
        with zipfile.ZipFile(target) as opened:
            names = opened.namelist()
            assert names[0] == "index.csv"
            assert names[1:] == [f"TEST-{n:04d}-0000.pdf" for n in range(COUNT)]
            index = list(csv.DictReader(io.StringIO(opened.read("index.csv").decode("utf-8-sig"))))
            assert [r["file"] for r in index] == names[1:]
            assert opened.read(names[-1]) == PDF
    finally:
        engine.dispose()
