"""Certificates at hand (GET /api/v1/reports/certificates and /coordinator/certificates) and
revocation that follows through to the diplomas that counted a course certificate."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import delete
from sqlmodel import Session, col, select

from ecampus.accounts.models import Role
from ecampus.audit.models import AuditEntry
from ecampus.certificates import revocation
from ecampus.certificates import service as certificates
from ecampus.certificates.listing import Programmes
from ecampus.certificates.models import Certificate, CertificatePart
from ecampus.localtime import local_day
from tests import factories
from tests.web.test_pages import csrf, login

COURSE = "demo-course"
PROGRAMME = "demo-programme"
REPORT = "/api/v1/reports/certificates"
KEY = {"q1": "b", "q2": ["x", "z"], "q3": True, "q4": " igm ", "q5": 7}


def graduate(client: TestClient, name: str, *, cohort: str | None = None,
             coordinator: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A learner who completed the course: its certificate and the programme's diploma."""
    data, auth = factories.learner(client, full_name=name)
    if cohort and coordinator:
        enrolled = client.post(f"/api/v1/cohorts/{cohort}/enrollments", headers=coordinator,
                               json={"course": COURSE, "emails": [data["email"]]})  # fmt: skip
        assert enrolled.status_code == 200, enrolled.text
    else:
        assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    for lesson in ("leccion-1", "leccion-2", "leccion-3"):
        client.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
    result = client.post(f"/api/v1/courses/{COURSE}/items/quiz-1/attempts", headers=auth,
                         json={"answers": KEY}).json()  # fmt: skip
    assert result["progress"]["status"] == "completed", result
    mine = client.get("/api/v1/me/certificates", headers=auth).json()
    codes = {c["kind"]: c["code"] for c in mine}
    return {**data, "course_code": codes["course"], "diploma_code": codes["programme"]}


@pytest.fixture
def coordinator(client: TestClient) -> dict[str, str]:
    return factories.staff(client, Role.coordinator)


@pytest.fixture
def people(client: TestClient, coordinator: dict[str, str]) -> dict[str, dict[str, Any]]:
    created = client.post("/api/v1/cohorts", headers=coordinator,
                          json={"code": "dip-2026", "name": "Diplomado 2026"})  # fmt: skip
    assert created.status_code == 201
    return {
        "ana": graduate(client, "Ana García", cohort="dip-2026", coordinator=coordinator),
        "jose": graduate(client, "JOSÉ NÚÑEZ"),
    }


def codes(client: TestClient, headers: dict[str, str], **params: str) -> set[str]:
    response = client.get(REPORT, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return {row["code"] for row in response.json()}


def test_search_ignores_case_and_accents(
    client: TestClient, coordinator: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    ana, jose = people["ana"], people["jose"]
    anas = {ana["course_code"], ana["diploma_code"]}
    for typed in ("Ana Garcia", "ana garcía", "ANA GARCÍA", "garc", "GARCIA ana"):
        assert codes(client, coordinator, q=typed) == anas, typed
    assert codes(client, coordinator, q="jose nunez") == {jose["course_code"], jose["diploma_code"]}
    assert codes(client, coordinator, q=ana["email"].upper()) == anas
    assert codes(client, coordinator, q=ana["course_code"].lower()) == {ana["course_code"]}
    # A whole code typed loosely, with O for 0 and no dashes, still finds it.
    loose = ana["course_code"].replace("-", " ").replace("0", "O")
    assert codes(client, coordinator, q=loose) == {ana["course_code"]}
    assert codes(client, coordinator, q="Zacarías") == set()
    assert codes(client, coordinator, q="100%") == set()  # a wildcard is a character
    row = next(r for r in client.get(REPORT, headers=coordinator, params={"q": "ana"}).json()
               if r["kind"] == "programme")  # fmt: skip
    assert row["learner"] == "Ana García"
    assert row["programme"] == PROGRAMME
    assert row["course"] is None
    assert row["status"] == "valid"
    assert row["cohort"] == "dip-2026"
    assert row["verify_url"] == f"http://testserver/verify/{ana['diploma_code']}"


def test_filters(
    client: TestClient, coordinator: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    ana, jose = people["ana"], people["jose"]
    every = {ana["course_code"], ana["diploma_code"], jose["course_code"], jose["diploma_code"]}
    assert codes(client, coordinator) == every
    assert codes(client, coordinator, kind="programme") == {
        ana["diploma_code"],
        jose["diploma_code"],
    }
    assert codes(client, coordinator, course=COURSE) == {ana["course_code"], jose["course_code"]}
    assert codes(client, coordinator, programme=PROGRAMME) == every
    assert codes(client, coordinator, programme=PROGRAMME, kind="programme", q="josé") == {
        jose["diploma_code"]
    }
    assert codes(client, coordinator, cohort="dip-2026") == {
        ana["course_code"],
        ana["diploma_code"],
    }
    assert codes(client, coordinator, cohort="nope") == set()
    today = local_day(certificates_issued(client)[0], client.app.state.settings.zone)  # type: ignore[attr-defined]
    assert codes(client, coordinator, since=today.isoformat(), until=today.isoformat()) == every
    assert codes(client, coordinator, until=(today - timedelta(days=1)).isoformat()) == set()
    assert codes(client, coordinator, since=(today + timedelta(days=1)).isoformat()) == set()
    assert codes(client, coordinator, status="valid") == every
    assert codes(client, coordinator, status="revoked") == set()
    revoked = client.post(f"/api/v1/certificates/{jose['diploma_code']}/revoke",
                          headers=coordinator, json={"reason": "Datos erróneos"})  # fmt: skip
    assert revoked.json()["cascaded"] == []  # a diploma takes nothing along
    assert codes(client, coordinator, status="revoked") == {jose["diploma_code"]}
    assert jose["diploma_code"] not in codes(client, coordinator, status="valid")
    for params in ({"kind": "badge"}, {"status": "lost"}, {"since": "30/11/2026"},
                   {"since": "2026-12-02", "until": "2026-12-01"}, {"format": "pdf"},
                   {"q": "x" * 201}):  # fmt: skip
        assert client.get(REPORT, headers=coordinator, params=params).status_code == 422, params
    _data, learner = factories.learner(client)
    assert client.get(REPORT, headers=learner).status_code == 403
    assert client.get(REPORT).status_code == 401


def certificates_issued(client: TestClient) -> list[Any]:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        return [c.issued_at for c in session.exec(select(Certificate))]


def test_csv_xlsx_and_zip(
    client: TestClient, coordinator: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    ana = people["ana"]
    response = client.get(REPORT, headers=coordinator, params={"format": "csv", "q": "garcia"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r["code"] for r in table} == {ana["course_code"], ana["diploma_code"]}
    assert {r["learner"] for r in table} == {"Ana García"}

    xlsx = client.get(REPORT, headers=coordinator, params={"format": "xlsx", "kind": "course"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("code", "kind", "status")
    assert len(values) == 3  # the header and two course certificates

    archive = client.get(REPORT, headers=coordinator, params={"format": "zip", "q": "ana"})
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    assert "certificates-" in archive.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert opened.testzip() is None
        names = opened.namelist()
        assert names[0] == "index.csv"
        assert sorted(names[1:]) == sorted(
            f"{c}.pdf" for c in (ana["course_code"], ana["diploma_code"])
        )
        index = list(csv.DictReader(io.StringIO(opened.read("index.csv").decode("utf-8-sig"))))
        assert {r["file"] for r in index} == set(names[1:])
        for name in names[1:]:
            assert opened.read(name).startswith(b"%PDF-")
    empty = client.get(REPORT, headers=coordinator, params={"format": "zip", "q": "nadie"})
    with zipfile.ZipFile(io.BytesIO(empty.content)) as opened:
        assert opened.namelist() == ["index.csv"]


def test_revoking_a_course_certificate_revokes_the_diplomas_that_counted_it(
    client: TestClient, coordinator: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    ana, jose = people["ana"], people["jose"]
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        # Ana's diploma lists its parts (as issued since v1.1); José's predates the table.
        course = certificates.by_code(session, ana["course_code"])
        diploma = certificates.by_code(session, ana["diploma_code"])
        older = certificates.by_code(session, jose["diploma_code"])
        assert course
        assert diploma
        assert older
        if session.get(CertificatePart, (diploma.id, course.id)) is None:
            session.add(CertificatePart(diploma_id=diploma.id or 0, certificate_id=course.id or 0))
        session.execute(delete(CertificatePart).where(col(CertificatePart.diploma_id) == older.id))
        session.commit()
    revoked = client.post(f"/api/v1/certificates/{ana['course_code']}/revoke",
                          headers=coordinator, json={"reason": "Fraude comprobado"})  # fmt: skip
    assert revoked.status_code == 200
    assert revoked.json()["cascaded"] == [ana["diploma_code"]]
    fallback = client.post(f"/api/v1/certificates/{jose['course_code']}/revoke",
                           headers=coordinator, json={"reason": "Fraude comprobado"})  # fmt: skip
    assert fallback.json()["cascaded"] == [jose["diploma_code"]]
    rows = {r["code"]: r for r in client.get(REPORT, headers=coordinator).json()}
    for person in (ana, jose):
        assert rows[person["course_code"]]["status"] == "revoked"
        diploma_row = rows[person["diploma_code"]]
        assert diploma_row["status"] == "revoked"
        assert person["course_code"] in diploma_row["revoked_reason"]
        assert diploma_row["revoked_reason"].startswith("Revocado porque se revocó el certificado")
    assert client.get(f"/api/v1/certificates/{ana['diploma_code']}").json()["revoked"] is True
    with Session(engine) as session:
        entries = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "certificate.revoke")
        ).all()
    assert sorted(e.subject for e in entries) == sorted(
        [ana["course_code"], ana["diploma_code"], jose["course_code"], jose["diploma_code"]]
    )
    because = {e.subject: e.detail.get("because_of") for e in entries}
    assert because[ana["diploma_code"]] == ana["course_code"]
    # One staff member acted for all four, named by account (not "system").
    assert len({(e.actor_id, e.actor) for e in entries}) == 1
    assert entries[0].actor_id is not None


def test_a_diploma_that_counted_another_certificate_stays(
    client: TestClient, coordinator: dict[str, str]
) -> None:
    ana = graduate(client, "Ana García")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        diploma = certificates.by_code(session, ana["diploma_code"])
        assert diploma
        assert diploma.id
        # Its parts name another course's certificate only (issued for this test).
        other = Certificate(code="ZZZZ-ZZZZ-ZZZ1", user_id=diploma.user_id, kind="course",
                            subject_id="otro-curso", learner_name="Ana García", title="Otro",
                            hours=1)  # fmt: skip
        session.add(other)
        session.flush()
        session.execute(
            delete(CertificatePart).where(col(CertificatePart.diploma_id) == diploma.id)
        )
        session.add(CertificatePart(diploma_id=diploma.id, certificate_id=other.id or 0))
        session.commit()
    revoked = client.post(f"/api/v1/certificates/{ana['course_code']}/revoke",
                          headers=coordinator, json={"reason": "Error"})  # fmt: skip
    assert revoked.json()["cascaded"] == []
    assert client.get(f"/api/v1/certificates/{ana['diploma_code']}").json()["valid"] is True


def test_the_coordinator_confirms_seeing_the_diplomas_that_go_with_it(
    client: TestClient, people: dict[str, dict[str, Any]]
) -> None:
    ana = people["ana"]
    staff = factories.profile()
    factories.staff(client, Role.coordinator, **staff)
    login(client, staff["email"], staff["password"])
    found = client.get("/coordinator/certificates", params={"q": "ana garcia"})
    assert found.status_code == 200
    assert ana["diploma_code"] in found.text
    assert ana["course_code"] in found.text
    assert f'href="/verify/{ana["course_code"]}"' in found.text
    assert "format=zip&amp;q=ana+garcia" in found.text
    nothing = client.get("/coordinator/certificates", params={"q": "Zacarías"})
    assert "Ningún certificado ni diploma coincide con estos filtros." in nothing.text
    english = factories.profile(language="en")
    factories.staff(client, Role.coordinator, **english)
    client.cookies.clear()
    login(client, english["email"], english["password"])
    nothing = client.get("/coordinator/certificates", params={"q": "Zacarías"})
    assert "No certificate or diploma matches these filters." in nothing.text
    client.cookies.clear()
    login(client, staff["email"], staff["password"])

    one = client.get("/coordinator/certificates", params={"code": ana["course_code"]})
    token = csrf(one.text)
    asked = client.post("/coordinator/certificates", data={
        "csrf_token": token, "action": "revoke", "code": ana["course_code"],
        "reason": "Fraude comprobado"})  # fmt: skip
    assert asked.status_code == 200
    assert "Confirmar la revocación" in asked.text
    assert ana["diploma_code"] in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    # Nothing has changed yet.
    assert client.get(f"/api/v1/certificates/{ana['course_code']}").json()["valid"] is True
    done = client.post("/coordinator/certificates", data={
        "csrf_token": token, "action": "revoke", "code": ana["course_code"],
        "reason": "Fraude comprobado", "confirm": "yes"})  # fmt: skip
    assert done.status_code == 200
    assert "Certificado revocado." in done.text
    assert ana["diploma_code"] in done.text
    for code in (ana["course_code"], ana["diploma_code"]):
        assert client.get(f"/api/v1/certificates/{code}").json()["revoked"] is True
    assert client.post("/coordinator/certificates", data={
        "csrf_token": token, "action": "revoke", "code": "AAAA-BBBB-CCCC",
        "reason": "Fraude"}).status_code == 422  # fmt: skip
    reissued = client.post("/coordinator/certificates", data={
        "csrf_token": token, "action": "reissue", "code": ana["course_code"]})  # fmt: skip
    assert reissued.status_code == 200
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        entry = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "certificate.reissue")
        ).one()
    assert (entry.actor, entry.subject) == (staff["email"], ana["course_code"])


def test_verification_by_a_name_says_what_to_type(client: TestClient) -> None:
    page = client.get("/verify", params={"code": "Ana García"}, headers={"accept-language": "es"})
    assert page.status_code == 404
    assert "Ningún certificado tiene el código Ana García." in page.text
    assert "no busca por nombre" in page.text


def test_which_diplomas_counted_it_without_recorded_parts(client: TestClient) -> None:
    """A diploma issued before parts were recorded: its frozen courses decide, else the
    catalogue's programme; `plan` says so without changing anything."""
    ana = graduate(client, "Ana García")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    programmes = Programmes.of_catalogue(client.app.state.catalogue)  # type: ignore[attr-defined]
    with Session(engine) as session:
        diploma = certificates.by_code(session, ana["diploma_code"])
        assert diploma
        session.execute(
            delete(CertificatePart).where(col(CertificatePart.diploma_id) == diploma.id)
        )
        for frozen, counted in (
            ([{"course_id": "otro-curso", "code": None}], []),
            ([{"course_id": COURSE, "code": None}], [ana["diploma_code"]]),
            (None, [ana["diploma_code"]]),  # the catalogue: demo-programme holds demo-course
        ):
            diploma.courses = frozen
            session.add(diploma)
            session.commit()
            plan = revocation.plan(session, code=ana["course_code"], programmes=programmes)
            assert plan is not None
            assert [d.code for d in plan.diplomas] == counted, frozen
        assert revocation.plan(session, code=ana["course_code"]) is not None
        assert revocation.plan(session, code="NOPE-NOPE-NOPE") is None
        assert revocation.plan(session, code=ana["diploma_code"]).diplomas == []  # type: ignore[union-attr]
    assert client.get(f"/api/v1/certificates/{ana['diploma_code']}").json()["valid"] is True


def test_no_diploma_is_issued_later_on_a_revoked_course_certificate(
    client: TestClient, coordinator: dict[str, str]
) -> None:
    ana = graduate(client, "Ana García")
    client.post(f"/api/v1/certificates/{ana['course_code']}/revoke", headers=coordinator,
                json={"reason": "Fraude comprobado"})  # fmt: skip
    engine = client.app.state.engine  # type: ignore[attr-defined]
    programme = client.app.state.catalogue.programmes[PROGRAMME]  # type: ignore[attr-defined]
    with Session(engine) as session:
        # As if the diploma had not been issued yet when the course certificate was revoked.
        diploma = certificates.by_code(session, ana["diploma_code"])
        assert diploma
        session.delete(diploma)
        session.commit()
        user_id = diploma.user_id
        issued = certificates.issue_programmes(
            session, user_id=user_id, programmes=[programme], language="es"
        )
        assert issued == []
        reissued = certificates.reissue(session, code=ana["course_code"])
        assert reissued is not None
        # Once a coordinator reissues the course certificate, the diploma may be earned.
        again = certificates.issue_programmes(
            session, user_id=user_id, programmes=[programme], language="es"
        )
        assert [d.kind for d in again] == ["programme"]
