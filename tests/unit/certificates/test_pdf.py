import dataclasses
import io
import os
import re
import shutil
import socket
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from ecampus.certificates.pdf import CertificateDocument, render_certificate_pdf
from ecampus.settings import Settings

TEMPLATES = Settings().templates_dir
VERIFY_URL = "http://127.0.0.1:8000/verify/K7Q2-9MXD-4TPA"

DOC = CertificateDocument(
    code="K7Q2-9MXD-4TPA",
    learner_name="María José Pérez Ñandú",
    course_title="Código de Migración de Guatemala y su reglamento",
    hours=4.5,
    score=92.4,
    issued_at=datetime(2025, 3, 15, 18, 0, tzinfo=UTC),
    verify_url=VERIFY_URL,
)


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        package = "zbar-tools" if binary == "zbarimg" else "poppler-utils"
        reason = f"{binary} is missing (Debian package {package}): cannot read the PDF back"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def render(doc: CertificateDocument, tmp_path: Path) -> Path:
    target = tmp_path / f"{doc.code}-{doc.language}.pdf"
    target.write_bytes(render_certificate_pdf(doc, templates_dir=TEMPLATES))
    return target


def pdf_text(pdf: Path) -> str:
    output = subprocess.run(
        [require("pdftotext"), str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    # Non-breaking spaces (4,5 horas, 92 %) and line wrapping are layout, not content.
    return re.sub(r"\s+", " ", output.replace("\u00a0", " "))


def test_spanish_certificate_prints_the_facts(tmp_path: Path) -> None:
    text = pdf_text(render(DOC, tmp_path))

    for expected in [
        "Certificado de finalización",
        "María José Pérez Ñandú",
        "Código de Migración de Guatemala y su reglamento",
        "4,5 horas",
        "92 %",
        "15 de marzo de 2025",
        "K7Q2-9MXD-4TPA",
        VERIFY_URL,
    ]:
        assert expected in text
    assert "REVOCADO" not in text


def test_english_certificate_prints_the_facts(tmp_path: Path) -> None:
    doc = dataclasses.replace(DOC, language="en", score=92.5, hours=1)

    text = pdf_text(render(doc, tmp_path))

    for expected in [
        "Certificate of completion",
        "This is to certify that",
        "María José Pérez Ñandú",
        "1 hour",
        "93%",
        "March 15, 2025",
        "K7Q2-9MXD-4TPA",
        VERIFY_URL,
    ]:
        assert expected in text
    assert "horas" not in text


def test_unknown_language_falls_back_to_spanish(tmp_path: Path) -> None:
    text = pdf_text(render(dataclasses.replace(DOC, language="fr"), tmp_path))

    assert "Certificado de finalización" in text
    assert "15 de marzo de 2025" in text


def test_programme_diploma_without_score(tmp_path: Path) -> None:
    doc = dataclasses.replace(DOC, kind="programme", score=None, hours=80)

    text = pdf_text(render(doc, tmp_path))

    assert "Diploma" in text
    assert "Certificado" not in text
    assert "el programa" in text
    assert "80 horas" in text
    assert "Calificación" not in text


@pytest.mark.parametrize(("language", "mark"), [("es", "REVOCADO"), ("en", "REVOKED")])
def test_revoked_certificate_is_marked(tmp_path: Path, language: str, mark: str) -> None:
    pdf = render(dataclasses.replace(DOC, language=language, revoked=True), tmp_path)

    assert mark in pdf_text(pdf)
    # pdftotext leaves out rotated text; pypdf also reads the diagonal stamp.
    assert PdfReader(pdf).pages[0].extract_text().count(mark) == 2


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        (None, "14 de marzo de 2025"),  # ECAMPUS_TIMEZONE's default, America/Guatemala
        (ZoneInfo("America/Guatemala"), "14 de marzo de 2025"),
        (ZoneInfo("UTC"), "15 de marzo de 2025"),
        (ZoneInfo("Asia/Tokyo"), "15 de marzo de 2025"),
    ],
)
def test_issue_date_is_the_day_in_the_institutions_zone(
    tmp_path: Path, zone: ZoneInfo | None, expected: str
) -> None:
    # A completion at 23:30 in Guatemala on 14 March, stored as UTC (05:30 on 15 March):
    # aware, and naive as SQLite hands it back, which means UTC.
    late = datetime(2025, 3, 15, 5, 30, tzinfo=UTC)
    aware = render(dataclasses.replace(DOC, issued_at=late, zone=zone), tmp_path)
    naive = dataclasses.replace(DOC, code="NAIV-E000-0000", issued_at=late.replace(tzinfo=None))

    for pdf in (aware, render(dataclasses.replace(naive, zone=zone), tmp_path)):
        assert expected in pdf_text(pdf)
        # pypdf reads the same text out of the file, without poppler.
        assert expected in " ".join(PdfReader(pdf).pages[0].extract_text().split())


def test_any_offset_is_read_as_the_instant_it_stands_for(tmp_path: Path) -> None:
    late = datetime(2025, 3, 14, 23, 30, tzinfo=timezone(timedelta(hours=-6)))
    doc = dataclasses.replace(DOC, issued_at=late, zone=ZoneInfo("America/Guatemala"))

    assert "14 de marzo de 2025" in pdf_text(render(doc, tmp_path))


def test_user_data_is_escaped(tmp_path: Path) -> None:
    doc = dataclasses.replace(
        DOC, learner_name="<b>Ana</b> & Co", course_title='<img src="x"> "Curso"'
    )

    text = pdf_text(render(doc, tmp_path))

    assert "<b>Ana</b> & Co" in text
    assert '<img src="x"> "Curso"' in text


def test_qr_code_decodes_to_the_verify_url(tmp_path: Path) -> None:
    pdf = render(DOC, tmp_path)
    subprocess.run(
        [require("pdftoppm"), "-png", "-r", "150", "-singlefile", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    zbarimg = require("zbarimg")

    decoded = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(tmp_path / "page.png")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    assert decoded.splitlines() == [VERIFY_URL]


def test_long_names_and_titles_stay_on_one_a4_landscape_page() -> None:
    doc = dataclasses.replace(
        DOC,
        learner_name="Ana Lucía de los Ángeles Rodríguez-Hernández Villatoro de la Cruz " * 2,
        course_title="Gobernanza migratoria y protección de los derechos humanos " * 8,
        revoked=True,
    )

    reader = PdfReader(io.BytesIO(render_certificate_pdf(doc, templates_dir=TEMPLATES)))

    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)


def test_rendering_fetches_nothing(tmp_path: Path) -> None:
    # A template that asks for remote resources must not make the renderer connect anywhere.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        (tmp_path / "certificates").mkdir()
        (tmp_path / "certificates" / "pdf.html").write_text(
            f'<link rel="stylesheet" href="http://127.0.0.1:{port}/x.css">'
            f'<img src="http://127.0.0.1:{port}/x.png"><img src="x.png">'
            "<p>{{ doc.learner_name }}</p>",
            encoding="utf-8",
        )

        pdf = render_certificate_pdf(DOC, templates_dir=tmp_path)

        with pytest.raises(BlockingIOError):
            listener.accept()
    assert pdf.startswith(b"%PDF-")
