"""POST /api/v1/cohorts/{code}/import: a participants' list into a cohort (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlmodel import Session, col, select

from ecampus.accounts.models import AccountToken, Role, User
from ecampus.audit.models import AuditEntry
from ecampus.learning.models import Enrollment
from ecampus.mail.models import OutboxMail
from tests import factories

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "participants"
WITH_ERRORS = FIXTURES / "diplomado-37.csv"
FIXED = FIXTURES / "diplomado-37-corregido.csv"
WORKBOOK = FIXTURES / "diplomado-37.xlsx"
EXPECTED_ERRORS = [
    {"row": 10, "column": "Correo"},
    {"row": 18, "column": "País"},
    {"row": 31, "column": "Correo"},
]
PROGRAMME = "diplomado-migracion-laboral"
PROGRAMME_COURSES = {
    "migracion-laboral",
    "reclutamiento-equitativo",
    "proteccion-migrantes-trabajadores",
}


def cohort(client: TestClient, auth: dict[str, str], code: str = "diplomado-2026") -> str:
    made = client.post("/api/v1/cohorts", headers=auth, json={"code": code, "name": "Diplomado"})
    assert made.status_code == 201, made.text
    return code


def upload(
    client: TestClient,
    auth: dict[str, str],
    path: Path | None = None,
    *,
    code: str = "diplomado-2026",
    content: bytes | None = None,
    name: str = "participantes.csv",
    **fields: Any,
) -> Any:
    data = content if content is not None else (path or WITH_ERRORS).read_bytes()
    form = {k: str(v).lower() if isinstance(v, bool) else v for k, v in fields.items()}
    return client.post(
        f"/api/v1/cohorts/{code}/import",
        headers=auth,
        files={"file": (name if path is None else path.name, data)},
        data=form,
    )


def count(client: TestClient, model: Any) -> int:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        return len(session.exec(select(model)).all())


def test_dry_run_reports_every_bad_row_and_changes_nothing(client: TestClient) -> None:
    auth = factories.staff(client, Role.coordinator)
    cohort(client, auth)
    users_before = count(client, User)
    response = upload(client, auth, course="demo-course", dry_run=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True
    assert body["imported"] is False
    assert body["rows"] == 37
    assert [{"row": e["row"], "column": e["column"]} for e in body["errors"]] == EXPECTED_ERRORS
    assert "marta.lopez@@example.org" in body["errors"][0]["message"]
    assert "Narnia" in body["errors"][1]["message"]
    assert "row 6" in body["errors"][2]["message"]
    # What importing the valid rows would do, and no invitation (nothing was made).
    assert (body["created"], body["existing"], body["enrolled"]) == (34, 0, 34)
    assert body["invitations"] == []
    assert count(client, User) == users_before
    assert count(client, Enrollment) == 0
    assert count(client, AccountToken) == 0


def test_a_file_with_errors_imports_nothing_unless_told_to_skip_them(client: TestClient) -> None:
    auth = factories.staff(client, Role.coordinator)
    cohort(client, auth)
    refused = upload(client, auth, course="demo-course").json()
    assert refused["imported"] is False
    assert (refused["created"], refused["enrolled"], refused["invitations"]) == (0, 0, [])
    assert len(refused["errors"]) == 3
    assert count(client, Enrollment) == 0

    skipped = upload(client, auth, course="demo-course", skip_invalid=True).json()
    assert skipped["imported"] is True
    assert (skipped["created"], skipped["existing"], skipped["enrolled"]) == (34, 0, 34)
    assert len(skipped["errors"]) == 3
    assert len(skipped["invitations"]) == 34
    assert all(i["url"].startswith("http://testserver/reset/") for i in skipped["invitations"])
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        ines = session.exec(select(User).where(User.email == "ines.batista@example.org")).one()
        assert (ines.full_name, ines.country, ines.institution_type) == (
            "Inés Batista Córdoba",
            "PA",
            "government",
        )
        assert ines.password_hash == ""
        assert ines.role == "learner"
        kevin = session.exec(select(User).where(User.email == "kevin.young@example.org")).one()
        assert (kevin.country, kevin.language) == ("BZ", "en")
        actions = [e.action for e in session.exec(select(AuditEntry))]
        assert actions.count("account.invite") == 34
        assert actions.count("cohort.import") == 1
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "cohort.import")).one()
        assert entry.subject == "diplomado-2026"
        assert entry.detail["skipped_rows"] == [10, 18, 31]
    # Nobody invited holds a password yet: the link is the way in.
    ana = skipped["invitations"][0]
    assert client.post(
        "/api/v1/auth/token", data={"username": ana["email"], "password": ""}
    ).status_code in (401, 422)
    assert count(client, OutboxMail) == 0  # send_invitations was not asked


def test_programme_import_with_invitations_queues_a_mail_each(bundled_client: TestClient) -> None:
    client = bundled_client
    auth = factories.staff(client, Role.coordinator)
    cohort(client, auth)
    existing, _ = factories.learner(client, email="sofia.quiros@example.org")
    body = upload(client, auth, FIXED, programme=PROGRAMME, send_invitations=True).json()
    assert body["errors"] == []
    assert body["imported"] is True
    assert (body["rows"], body["created"], body["existing"]) == (37, 36, 1)
    assert body["enrolled"] == 37 * 3
    assert len(body["invitations"]) == 36
    assert existing["email"] not in {i["email"] for i in body["invitations"]}
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        mails = session.exec(select(OutboxMail)).all()
        assert sorted(m.recipient for m in mails) == sorted(i["email"] for i in body["invitations"])
        assert {m.kind for m in mails} == {"invitation"}
        kevin = next(m for m in mails if m.recipient == "kevin.young@example.org")
        assert kevin.language == "en"
        rows = session.exec(select(Enrollment.course_id, Enrollment.cohort_id)).all()
        assert {course for course, _ in rows} == PROGRAMME_COURSES
        assert len({cohort_id for _, cohort_id in rows}) == 1
    # Again: everyone exists and is enrolled; nobody is invited twice.
    again = upload(client, auth, FIXED, programme=PROGRAMME).json()
    assert (again["created"], again["existing"], again["enrolled"]) == (0, 37, 0)
    assert again["already_enrolled"] == 37 * 3
    assert again["invitations"] == []


def test_xlsx_and_english_headers(client: TestClient) -> None:
    auth = factories.staff(client, Role.coordinator)
    cohort(client, auth)
    body = upload(client, auth, WORKBOOK, course="demo-course", dry_run=True).json()
    assert [{"row": e["row"], "column": e["column"]} for e in body["errors"]] == EXPECTED_ERRORS
    assert body["rows"] == 37

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["EMAIL", "Full Name", "Country", "Institution_Type", "Phone"])
    sheet.append(["uno@example.org", "Úrsula Uno", "gt", "Academia", "555"])
    sheet.append([None, None, None, None, None])
    sheet.append(["dos@example.org", "Dos", "Estados Unidos", "church", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    body = upload(
        client, auth, content=buffer.getvalue(), name="list.xlsx", course="demo-course"
    ).json()
    assert body["rows"] == 2
    assert body["ignored_columns"] == ["Phone"]
    assert body["errors"] == [
        {"row": 4, "column": "Institution_Type", "message": body["errors"][0]["message"]}
    ]
    assert "church" in body["errors"][0]["message"]


def test_comma_csv_without_bom_and_header_problems(client: TestClient) -> None:
    auth = factories.staff(client, Role.coordinator)
    cohort(client, auth)
    plain = 'email,nombre,pais,idioma\r\nuno@example.org,"Pérez, Ana",SV,English\r\n'
    body = upload(client, auth, content=plain.encode(), course="demo-course").json()
    assert body["errors"] == []
    assert body["created"] == 1
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        ana = session.exec(select(User).where(User.email == "uno@example.org")).one()
        assert (ana.full_name, ana.country, ana.language) == ("Pérez, Ana", "SV", "en")
    missing = upload(
        client, auth, content=b"correo;institucion\nx@example.org;X\n", course="demo-course"
    ).json()
    assert {(e["row"], e["column"]) for e in missing["errors"]} == {
        (1, "full_name"),
        (1, "country"),
    }
    assert missing["imported"] is False
    # A header problem refuses the file even when told to skip bad rows.
    skipped = upload(
        client,
        auth,
        content=b"correo;institucion\nx@example.org;X\n",
        course="demo-course",
        skip_invalid=True,
    ).json()
    assert skipped["imported"] is False
    assert skipped["created"] == 0


def test_bad_requests_answer_4xx(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    cohort(client, coordinator)
    _, learner = factories.learner(client)
    assert upload(client, learner, course="demo-course").status_code == 403
    assert upload(client, {}, course="demo-course").status_code == 401
    assert upload(client, coordinator).status_code == 422  # neither course nor programme
    both = upload(client, coordinator, course="demo-course", programme="demo-programme")
    assert both.status_code == 422
    assert upload(client, coordinator, course="nope").status_code == 404
    assert upload(client, coordinator, programme="nope").status_code == 404
    assert upload(client, coordinator, code="nope", course="demo-course").status_code == 404
    for content in (b"", b"\xff\xfe\x00garbage", b"PK\x03\x04not really a zip"):
        refused = upload(client, coordinator, content=content, course="demo-course")
        assert refused.status_code == 422, content
        assert refused.json()["detail"]
    latin1 = "correo;nombre;pais\nana@example.org;Ana Muñoz;GT\n".encode("latin-1")
    assert (
        "CSV UTF-8"
        in upload(client, coordinator, content=latin1, course="demo-course").json()["detail"]
    )
    too_long = "correo;nombre;pais\n" + "".join(
        f"p{i}@example.org;Persona {i};GT\n" for i in range(5001)
    )
    refused = upload(client, coordinator, content=too_long.encode(), course="demo-course")
    assert refused.status_code == 422
    assert "5,000" in refused.json()["detail"]
    assert count(client, User) == 2


def test_cohort_enrolment_takes_a_programme(bundled_client: TestClient) -> None:
    client = bundled_client
    auth = factories.staff(client, Role.coordinator)
    cohort(client, auth)
    data, _ = factories.learner(client)
    response = client.post(
        "/api/v1/cohorts/diplomado-2026/enrollments",
        headers=auth,
        json={"programme": PROGRAMME, "emails": [data["email"], "nadie@example.org"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["enrolled"] == [data["email"]]
    assert response.json()["unknown"] == ["nadie@example.org"]
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        courses = set(session.exec(select(Enrollment.course_id)).all())
        assert courses == PROGRAMME_COURSES
        entry = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "cohort.enrol")
            .order_by(col(AuditEntry.id))
        ).first()
        assert entry is not None
        assert entry.subject == "diplomado-2026"
    both = client.post(
        "/api/v1/cohorts/diplomado-2026/enrollments",
        headers=auth,
        json={"programme": PROGRAMME, "course": "migracion-laboral", "emails": [data["email"]]},
    )
    assert both.status_code == 422


def test_every_participant_receives_an_invitation_that_opens_their_courses(
    database_url: str,
) -> None:
    """The whole way, with the app's own sender and a real SMTP server (aiosmtpd): the
    corrected list imported for the diploma, 37 invitations delivered in each person's
    language, and one person setting a password from theirs and finding the courses."""
    from ecampus.app import create_app
    from tests.conftest import BUNDLED_COURSES, make_settings
    from tests.mailserver import smtp_server

    with smtp_server() as (inbox, url):
        settings = make_settings(database_url, BUNDLED_COURSES, smtp_url=url)
        with TestClient(create_app(settings)) as client:
            auth = factories.staff(client, Role.coordinator)
            cohort(client, auth)
            body = upload(client, auth, FIXED, programme=PROGRAMME, send_invitations=True).json()
            assert body["created"] == 37
            mails = inbox.wait_for(37, seconds=60)
            assert sorted(r for m in mails for r in m.recipients) == sorted(
                i["email"] for i in body["invitations"]
            )
            [kevin] = inbox.to("kevin.young@example.org")
            [ana] = inbox.to("ana.xicara@example.org")
            assert "Kevin Young" in kevin.text
            assert "Ana Lucía Xicará" in ana.text
            assert kevin.subject != ana.subject  # English and Spanish
            assert ana.link == next(
                i["url"] for i in body["invitations"] if i["email"] == "ana.xicara@example.org"
            )
            token = ana.link.rsplit("/", 1)[1]
            chosen = "una contraseña nueva 2026"
            confirmed = client.post(
                "/api/v1/auth/password-reset/confirm", json={"token": token, "password": chosen}
            )
            assert confirmed.status_code == 204
            headers = factories.token(client, "ana.xicara@example.org", chosen)
            mine = client.get("/api/v1/me/courses", headers=headers).json()
            assert {c["course_id"] for c in mine} == PROGRAMME_COURSES
