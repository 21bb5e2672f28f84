"""Certificates name who issued them, diplomas list what they count, PDFs are built once,
and the verification JSON and page say valid, revoked (when and why) or superseded."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlmodel import Session

from ecampus.accounts.models import Role
from ecampus.app import create_app
from ecampus.audit.models import AuditEntry
from ecampus.certificates import files
from ecampus.certificates.models import Certificate, CertificateFile, CertificatePart
from ecampus.settings import Settings
from tests import factories
from tests.unit.certificates.test_pdf import pdf_text
from tests.web.test_local_dates import complete_course
from tests.web.test_pages import login

ROOT = Path(__file__).resolve().parents[2]
INSTITUTION = "Instituto de Formación en Migración (ejemplo)"
INSTITUTION_EN = "Institute for Migration Training (sample)"


@pytest.fixture
def client(settings: Settings, courses_dir: Path) -> Iterator[TestClient]:
    """The fixture courses with the bundled issuer.yaml, and a programme diploma that its
    own issuer: key turns to portrait."""
    shutil.copy(ROOT / "courses" / "issuer.yaml", courses_dir / "issuer.yaml")
    shutil.copytree(ROOT / "courses" / "issuer", courses_dir / "issuer")
    programme = courses_dir / "programmes" / "demo-programme.yaml"
    programme.write_text(
        programme.read_text(encoding="utf-8") + "issuer:\n  orientation: portrait\n",
        encoding="utf-8",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The codes of every certificate rendered (the real renderer still runs)."""
    seen: list[str] = []
    real = files.render_certificate_pdf

    def counting(document: Any, **kwargs: Any) -> bytes:
        seen.append(document.code)
        return real(document, **kwargs)

    monkeypatch.setattr(files, "render_certificate_pdf", counting)
    return seen


def certificates_of(client: TestClient) -> dict[str, Certificate]:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        rows = session.scalars(select(Certificate).where(Certificate.revoked_at.is_(None)))  # type: ignore[union-attr]
        return {c.kind: c for c in rows}


def read_pdf(data: bytes, tmp_path: Path, name: str) -> str:
    target = tmp_path / f"{name}.pdf"
    target.write_bytes(data)
    return pdf_text(target)


def test_issuing_freezes_the_issuer_and_the_diplomas_courses(client: TestClient) -> None:
    _learner, auth = factories.learner(client)
    code = complete_course(client, auth)

    issued = certificates_of(client)
    course, diploma = issued["course"], issued["programme"]
    assert course.code == code
    assert course.issuer is not None
    assert course.issuer["name"]["es"] == INSTITUTION
    assert course.issuer["logo"] == "issuer/logo.svg"
    assert course.issuer["orientation"] == "landscape"
    assert [s["name"] for s in course.issuer["signatories"]] == [
        "María Ejemplo Ruiz",
        "Carlos Muestra Pérez",
    ]
    assert course.courses is None
    assert diploma.issuer is not None
    assert diploma.issuer["orientation"] == "portrait"  # the programme's own issuer: key
    assert diploma.courses == [
        {"course_id": "demo-course", "title": "Curso de prueba", "hours": 2.0, "code": code}
    ]
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        parts = session.scalars(select(CertificatePart)).all()
    assert [(p.diploma_id, p.certificate_id) for p in parts] == [(diploma.id, course.id)]


def test_the_pdfs_name_the_issuer_signatories_and_courses(
    client: TestClient, tmp_path: Path
) -> None:
    _learner, auth = factories.learner(client)
    code = complete_course(client, auth)
    diploma = certificates_of(client)["programme"].code

    course_pdf = client.get(f"/certificates/{code}.pdf")
    diploma_pdf = client.get(f"/certificates/{diploma}.pdf")

    assert course_pdf.status_code == diploma_pdf.status_code == 200
    text = read_pdf(course_pdf.content, tmp_path, "course")
    for expected in [
        INSTITUTION,
        "https://example.org",
        "María Ejemplo Ruiz",
        "Directora académica",
        "Carlos Muestra Pérez",
        "Coordinador de programas",
        "Curso de prueba",
    ]:
        assert expected in text
    listed = read_pdf(diploma_pdf.content, tmp_path, "diploma")
    assert "CURSOS QUE COMPRENDE" in listed  # the caption, in small capitals
    assert "Curso de prueba" in listed
    assert code in listed  # the course certificate it counts
    assert "10 horas" in listed
    page = PdfReader(io.BytesIO(diploma_pdf.content)).pages[0].mediabox
    assert (round(float(page.width)), round(float(page.height))) == (595, 842)  # portrait


def test_a_pdf_is_rendered_once_and_its_revoked_copy_once_more(
    client: TestClient, renders: list[str], tmp_path: Path
) -> None:
    _learner, auth = factories.learner(client)
    code = complete_course(client, auth)

    first = client.get(f"/certificates/{code}.pdf").content
    again = client.get(f"/certificates/{code}.pdf").content

    assert renders == [code]
    assert again == first
    coordinator = factories.staff(client, Role.coordinator)
    revoked = client.post(
        f"/api/v1/certificates/{code}/revoke", headers=coordinator, json={"reason": "Fraude"}
    )
    assert revoked.status_code == 200, revoked.text

    marked = client.get(f"/certificates/{code}.pdf").content
    still = client.get(f"/certificates/{code}.pdf").content

    assert renders == [code, code]
    assert still == marked != first
    assert "REVOCADO" in read_pdf(marked, tmp_path, "revoked")
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        certificate = session.scalars(select(Certificate).where(Certificate.code == code)).one()
        kept = session.get(CertificateFile, certificate.id)
    assert kept is not None
    assert kept.revoked is True
    assert kept.pdf == marked


def test_pdf_bytes_serves_the_kept_copy_to_any_caller(
    client: TestClient, renders: list[str], settings: Settings
) -> None:
    _learner, auth = factories.learner(client)
    code = complete_course(client, auth)
    served = client.get(f"/certificates/{code}.pdf").content

    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        certificate = session.scalars(select(Certificate).where(Certificate.code == code)).one()
        assert files.pdf_bytes(session, certificate, settings=settings) == served

    assert renders == [code]


def test_verification_json_says_valid_with_issuer_and_courses(client: TestClient) -> None:
    _learner, auth = factories.learner(client)
    code = complete_course(client, auth)
    diploma = certificates_of(client)["programme"].code

    info = client.get(f"/api/v1/certificates/{code}").json()
    counted = client.get(f"/api/v1/certificates/{diploma}").json()

    assert info["status"] == "valid"
    assert (info["valid"], info["revoked"]) == (True, False)
    assert info["kind"] == "course"
    assert info["issuer"] == {
        "name": {"es": INSTITUTION, "en": INSTITUTION_EN},
        "url": "https://example.org",
        "signatories": [
            {"name": "María Ejemplo Ruiz", "title": {"es": "Directora académica", "en": "Academic Director"}},
            {"name": "Carlos Muestra Pérez", "title": {"es": "Coordinador de programas", "en": "Programme Coordinator"}},
        ],
    }  # fmt: skip
    assert (info["revoked_at"], info["revoked_reason"], info["superseded_by"]) == (None, None, None)
    assert "courses" not in info
    assert counted["kind"] == "programme"
    assert counted["courses"] == [
        {"course_id": "demo-course", "title": "Curso de prueba", "hours": 2.0, "code": code}
    ]


def test_revoked_says_when_and_why(client: TestClient) -> None:
    _learner, auth = factories.learner(client)
    code = complete_course(client, auth)
    coordinator = factories.staff(client, Role.coordinator)
    client.post(
        f"/api/v1/certificates/{code}/revoke", headers=coordinator, json={"reason": "Plagio"}
    )

    info = client.get(f"/api/v1/certificates/{code}").json()
    page = client.get(f"/verify/{code}").text

    assert info["status"] == "revoked"
    assert (info["valid"], info["revoked"]) == (False, True)
    assert info["revoked_at"] is not None
    assert info["revoked_reason"] == "Plagio"
    assert "Este certificado fue revocado" in page
    assert "Motivo: Plagio" in page


def test_reissue_supersedes_the_old_code(
    client: TestClient, renders: list[str], tmp_path: Path
) -> None:
    _learner, auth = factories.learner(client)
    code = complete_course(client, auth)
    client.get(f"/certificates/{code}.pdf")
    coordinator = factories.staff(client, Role.coordinator)

    fresh = client.post(f"/api/v1/certificates/{code}/reissue", headers=coordinator).json()

    new = fresh["code"]
    assert new != code
    assert fresh["status"] == "valid"
    assert fresh["issuer"]["name"]["es"] == INSTITUTION  # the same issuer, kept
    old = client.get(f"/api/v1/certificates/{code}").json()
    assert old["status"] == "superseded"
    assert old["valid"] is False
    assert old["superseded_by"] == new
    assert old["superseded_at"] is not None
    page = client.get(f"/verify/{code}").text
    assert f'href="/verify/{new}"' in page
    assert f"El certificado que lo sustituye tiene el código {new}." in page
    english = client.get(f"/verify/{code}", params={"lang": "en"}).text
    assert "This certificate was replaced by a new one" in english
    stamped = read_pdf(client.get(f"/certificates/{code}.pdf").content, tmp_path, "old")
    assert "REEMPLAZADO" in stamped
    assert new in stamped
    assert renders == [code, code]
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "certificate.reissue")  # type: ignore[arg-type]
        ).all()
    assert [(e.subject, e.detail) for e in entries] == [(code, {"superseded_by": new})]
    assert entries[0].actor.endswith("@example.org")


def test_the_verification_page_shows_issuer_logo_and_signatures(client: TestClient) -> None:
    _learner, auth = factories.learner(client)
    code = complete_course(client, auth)
    diploma = certificates_of(client)["programme"].code

    spanish = client.get(f"/verify/{code}").text
    english = client.get(f"/verify/{code}", params={"lang": "en"}).text
    counted = client.get(f"/verify/{diploma}").text

    assert INSTITUTION in spanish
    assert 'src="data:image/svg+xml;base64,' in spanish  # the logo and the signatures
    assert spanish.count("data:image/svg+xml;base64,") == 3
    assert "Firmado por" in spanish
    assert "Directora académica" in spanish
    # The reader's language first: the English name and titles on the English page.
    assert INSTITUTION_EN in english
    assert "Academic Director" in english
    assert "<caption>Cursos que comprende este diploma</caption>" in counted
    assert f'href="/verify/{code}"' in counted


def test_older_certificates_fall_back_to_the_current_issuer(
    client: TestClient, tmp_path: Path
) -> None:
    _learner, auth = factories.learner(client)
    code = complete_course(client, auth)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    table = Certificate.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.code == code).values(issuer=None))

    info = client.get(f"/api/v1/certificates/{code}").json()
    text = read_pdf(client.get(f"/certificates/{code}.pdf").content, tmp_path, "older")

    assert info["issuer"]["name"]["es"] == INSTITUTION
    assert INSTITUTION in text
    assert "María Ejemplo Ruiz" in text


def test_the_learner_sees_a_superseded_diploma_and_its_replacement(client: TestClient) -> None:
    learner, auth = factories.learner(client)
    complete_course(client, auth)
    diploma = certificates_of(client)["programme"].code
    coordinator = factories.staff(client, Role.coordinator)
    fresh = client.post(f"/api/v1/certificates/{diploma}/reissue", headers=coordinator).json()

    login(client, learner["email"], learner["password"])
    page = client.get("/me").text

    assert f"sustituido por {fresh['code']}" in page
    assert fresh["courses"] == client.get(f"/api/v1/certificates/{diploma}").json()["courses"]
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        counted = session.scalars(
            select(CertificatePart.certificate_id)  # type: ignore[call-overload]
            .join(Certificate, Certificate.id == CertificatePart.diploma_id)  # type: ignore[arg-type]
            .where(Certificate.code == fresh["code"])
        ).all()
    assert counted == [certificates_of(client)["course"].id]  # the new diploma counts it too
