"""The issuer on the PDF: logo, name and signatories, a diploma's courses, at both A4
orientations and with a long compound name. The pages are saved as images in
test-artifacts/certificates/ for people to look at, and no two words on them overlap."""

from __future__ import annotations

import dataclasses
import html
import re
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from ecampus.certificates.pdf import (
    CertificateDocument,
    CountedCourse,
    Image,
    Signatory,
    render_certificate_pdf,
)
from tests.unit.certificates.test_pdf import DOC, TEMPLATES, pdf_text, require

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "certificates"
IMAGES = ROOT / "courses" / "issuer"
# 60 characters, compound and hyphenated, accents and ñ: the longest name we design for.
LONG_NAME = "Ana Lucía de los Ángeles Rodríguez-Hernández Villatoro Pazos"


def svg(name: str) -> Image:
    return Image("image/svg+xml", (IMAGES / name).read_bytes())


ISSUED = dataclasses.replace(
    DOC,
    learner_name=LONG_NAME,
    issuer_name="Instituto de Formación en Migración (ejemplo)",
    issuer_url="https://example.org",
    logo=svg("logo.svg"),
    signatories=(
        Signatory("María Ejemplo Ruiz", "Directora académica", svg("firma-directora.svg")),
        Signatory("Carlos Muestra Pérez", "Coordinador de programas", svg("firma-coordinador.svg")),
    ),
)
DIPLOMA = dataclasses.replace(
    ISSUED,
    kind="programme",
    course_title="Diplomado regional en migración laboral",
    hours=80,
    score=None,
    courses=(
        CountedCourse("Fundamentos de la migración laboral", 24, "AB12-CD34-EF56"),
        CountedCourse("Reclutamiento equitativo y trabajo decente", 28, "GH78-JK90-MN12"),
        CountedCourse(
            "Protección y derechos de las personas trabajadoras migrantes y sus familias",
            28,
            "PQ34-RS56-TV78",
        ),
    ),
)
CASES = {
    "course-landscape": ISSUED,
    "course-portrait": dataclasses.replace(ISSUED, orientation="portrait"),
    "diploma-landscape": DIPLOMA,
    "diploma-portrait": dataclasses.replace(DIPLOMA, orientation="portrait"),
    "diploma-portrait-ten-courses": dataclasses.replace(
        DIPLOMA,
        orientation="portrait",
        courses=tuple(
            CountedCourse(f"Módulo {n}: gobernanza migratoria y derechos humanos en la región", 8)
            for n in range(1, 11)
        ),
    ),
    "course-landscape-three-signatories": dataclasses.replace(
        ISSUED,
        signatories=(*ISSUED.signatories, Signatory("Rita Sinfirma López", "Rectora")),
    ),
}
SIZES = {"landscape": (842, 595), "portrait": (595, 842)}


def words(pdf: Path) -> list[tuple[str, float, float, float, float]]:
    """Each word on the page with its box (pdftotext -bbox)."""
    output = subprocess.run(
        [require("pdftotext"), "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    return [
        (html.unescape(text), float(x0), float(y0), float(x1), float(y1))
        for x0, y0, x1, y1, text in re.findall(pattern, output)
    ]


def overlaps(found: list[tuple[str, float, float, float, float]]) -> list[tuple[str, str]]:
    clashes = []
    for i, (a, ax0, ay0, ax1, ay1) in enumerate(found):
        for b, bx0, by0, bx1, by1 in found[i + 1 :]:
            width = min(ax1, bx1) - max(ax0, bx0)
            height = min(ay1, by1) - max(ay0, by0)
            if width > 0.5 and height > 0.5:
                clashes.append((a, b))
    return clashes


@pytest.mark.parametrize("name", list(CASES))
def test_the_issuer_is_printed_and_nothing_overlaps(name: str) -> None:
    document: CertificateDocument = CASES[name]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / f"{name}.pdf"
    pdf.write_bytes(render_certificate_pdf(document, templates_dir=TEMPLATES))

    reader = PdfReader(pdf)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == SIZES[document.orientation]
    text = pdf_text(pdf)
    for expected in [
        "Instituto de Formación en Migración (ejemplo)",
        "https://example.org",
        *(f"{person.name} {person.title}" for person in document.signatories),
        document.code,
    ]:
        assert expected in text
    # A name may wrap after its hyphen, which pdftotext then joins without it.
    assert LONG_NAME.replace("-", "") in re.sub(r"-\s?", "", text)
    for course in document.courses:
        assert course.title in text
    assert overlaps(words(pdf)) == []
    subprocess.run(
        [
            require("pdftoppm"),
            "-png",
            "-r",
            "80",
            "-singlefile",
            str(pdf),
            str(pdf.with_suffix("")),
        ],
        check=True,
    )
    assert pdf.with_suffix(".png").stat().st_size > 10_000
