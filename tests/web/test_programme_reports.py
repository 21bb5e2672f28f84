"""Programme tracking and withdrawn enrolments in the reports: the programme report (JSON,
CSV, XLSX) and page, and the completions report's programme and status filters and its
last_activity_at column."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from ecampus.accounts.models import Role
from ecampus.reports import programmes
from ecampus.reports.programmes import COLUMNS
from tests import factories
from tests.web.test_pages import login

PROGRAMME = "diplomado-migracion-laboral"
COURSES = ("migracion-laboral", "reclutamiento-equitativo", "proteccion-migrantes-trabajadores")
REPORT = "/api/v1/reports/programmes"
COMPLETIONS = "/api/v1/reports/completions"
COHORT = "diplomado-2026"


def complete(
    client: TestClient, auth: dict[str, str], course: str, items: int | None = None
) -> None:
    """Work through a course as a learner does: lessons read, quizzes passed."""
    outline = client.get(f"/api/v1/courses/{course}").json()
    for item in [i for m in outline["modules"] for i in m["items"]][:items]:
        base = f"/api/v1/courses/{course}/items/{item['id']}"
        if item["type"] == "quiz":
            answers = factories.answer_key(client, course, item["id"])
            done = client.post(f"{base}/attempts", headers=auth, json={"answers": answers})
        else:
            done = client.post(f"{base}/complete", headers=auth)
        assert done.status_code == 200, done.text


def enrol(client: TestClient, coordinator: dict[str, str], cohort: str, *emails: str) -> None:
    response = client.post(
        f"/api/v1/cohorts/{cohort}/enrollments",
        headers=coordinator,
        json={"programme": PROGRAMME, "emails": list(emails)},
    )
    assert response.status_code == 200, response.text


def setup_programme(client: TestClient) -> tuple[dict[str, str], dict[str, str]]:
    """Ana finishes the diploma, Beto one course and a lesson, Carla is withdrawn from all
    three, Darío (another cohort) has not started; returns the coordinator and the emails."""
    coordinator = factories.staff(client, Role.coordinator)
    for code, name in ((COHORT, "Diplomado 2026"), ("otra", "Otra cohorte")):
        created = client.post(
            "/api/v1/cohorts", headers=coordinator, json={"code": code, "name": name}
        )
        assert created.status_code == 201, created.text
    people = {
        "ana": factories.learner(client, full_name="Ana García", country="GT"),
        "beto": factories.learner(client, full_name="=Beto Núñez", country="HN",
                                  institution="+Red", institution_type="civil_society"),
        "carla": factories.learner(client, full_name="Carla Pérez", country="SV"),
        "dario": factories.learner(client, full_name="Darío Cú", country="GT"),
    }  # fmt: skip
    emails = {k: v[0]["email"] for k, v in people.items()}
    enrol(client, coordinator, COHORT, emails["ana"], emails["beto"], emails["carla"])
    enrol(client, coordinator, "otra", emails["dario"])
    for course in COURSES:
        complete(client, people["ana"][1], course)
    complete(client, people["beto"][1], COURSES[0])
    complete(client, people["beto"][1], COURSES[1], items=1)
    for course in COURSES:
        withdrawn = client.delete(
            f"/api/v1/courses/{course}/enrollments/{emails['carla']}", headers=coordinator
        )
        assert withdrawn.status_code == 204, withdrawn.text
    # Beto's third course, not started, is withdrawn too: he stays a participant.
    assert (
        client.delete(
            f"/api/v1/courses/{COURSES[2]}/enrollments/{emails['beto']}", headers=coordinator
        ).status_code
        == 204
    )
    return coordinator, emails


def rows_of(client: TestClient, auth: dict[str, str], url: str, **params: str) -> list[Any]:
    response = client.get(url, params=params, headers=auth)
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body


def test_programme_report_follows_each_participant(
    bundled_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = bundled_client
    coordinator, emails = setup_programme(client)
    rows = {r["email"]: r for r in rows_of(client, coordinator, REPORT)}
    assert set(rows) == {emails["ana"], emails["beto"], emails["dario"]}  # Carla withdrawn
    ana, beto, dario = rows[emails["ana"]], rows[emails["beto"]], rows[emails["dario"]]
    assert list(ana) == [key for key, _ in COLUMNS]
    mine = client.get("/api/v1/me/certificates", headers=factories.token(
        client, emails["ana"], "correct horse battery"))  # fmt: skip
    diploma = next(c for c in mine.json() if c["kind"] == "programme")
    assert {k: ana[k] for k in ("cohort", "programme", "courses_completed", "courses_total",
                                "hours_completed", "hours_total", "status", "diploma")} == {
        "cohort": COHORT, "programme": PROGRAMME, "courses_completed": 3, "courses_total": 3,
        "hours_completed": 3.8, "hours_total": 3.8, "status": "completed",
        "diploma": diploma["code"],
    }  # fmt: skip
    assert ana["completed_at"]
    assert ana["last_activity_at"]
    assert ana["completed_at"].endswith("+00:00")
    assert (beto["courses_completed"], beto["hours_completed"], beto["status"]) == (
        1,
        1.4,
        "in_progress",
    )
    assert (beto["diploma"], beto["completed_at"]) == (None, None)
    assert (dario["cohort"], dario["courses_completed"], dario["status"]) == (
        "otra",
        0,
        "not_started",
    )
    assert dario["last_activity_at"] is None

    def emails_for(**params: str) -> set[str]:
        return {r["email"] for r in rows_of(client, coordinator, REPORT, **params)}

    assert emails_for(cohort=COHORT) == {emails["ana"], emails["beto"]}
    assert emails_for(cohort="otra") == {emails["dario"]}
    assert emails_for(country="hn") == {emails["beto"]}
    assert emails_for(institution_type="civil_society") == {emails["beto"]}
    assert emails_for(programme=PROGRAMME, cohort=COHORT, country="GT") == {emails["ana"]}
    assert emails_for(cohort="nobody") == set()
    # A cohort too large to name its members is matched by a subquery, to the same rows.
    named = rows_of(client, coordinator, REPORT, cohort=COHORT)
    monkeypatch.setattr(programmes, "MEMBERS_LISTED", 1)
    assert rows_of(client, coordinator, REPORT, cohort=COHORT) == named
    monkeypatch.undo()
    for bad in ({"programme": "nope"}, {"country": "Honduras del Norte"},
                {"institution_type": "x"}, {"format": "pdf"}):  # fmt: skip
        refused = client.get(REPORT, params=bad, headers=coordinator)
        assert refused.status_code == 422, bad
        assert refused.json()["detail"]

    text = client.get(REPORT, params={"format": "csv", "cohort": COHORT}, headers=coordinator)
    assert text.headers["content-type"].startswith("text/csv")
    assert text.headers["content-disposition"].endswith('.csv"')
    assert text.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert list(table[0]) == [label for _, label in COLUMNS]
    by_email = {r["email"]: r for r in table}
    assert by_email[emails["beto"]]["learner"] == "'=Beto Núñez"  # no formula
    assert by_email[emails["beto"]]["institution"] == "'+Red"
    assert by_email[emails["ana"]]["diploma"] == diploma["code"]
    assert by_email[emails["ana"]]["hours_completed"] == "3.8"

    xlsx = client.get(REPORT, params={"format": "xlsx"}, headers=coordinator)
    assert xlsx.headers["content-disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == [label for _, label in COLUMNS]
    assert len(values) == 4
    assert "=Beto Núñez" in [row[0] for row in values]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    learner = factories.token(client, emails["ana"], "correct horse battery")
    assert client.get(REPORT, headers=learner).status_code == 403
    assert client.get(REPORT).status_code == 401


def test_completions_leave_withdrawn_out_and_filter_by_programme(
    bundled_client: TestClient,
) -> None:
    client = bundled_client
    coordinator, emails = setup_programme(client)
    everyone = rows_of(client, coordinator, COMPLETIONS)
    assert emails["carla"] not in {r["email"] for r in everyone}
    assert (emails["beto"], COURSES[2]) not in {(r["email"], r["course"]) for r in everyone}
    assert len(everyone) == 3 + 2 + 3  # Ana, Beto's two courses, Darío
    withdrawn = rows_of(client, coordinator, COMPLETIONS, status="withdrawn")
    assert sorted((r["email"], r["course"]) for r in withdrawn) == sorted(
        [(emails["carla"], c) for c in COURSES] + [(emails["beto"], COURSES[2])]
    )
    assert {r["status"] for r in withdrawn} == {"withdrawn"}
    assert all(r["withdrawn_at"] for r in withdrawn)
    completed = rows_of(client, coordinator, COMPLETIONS, status="completed")
    assert sorted((r["email"], r["course"]) for r in completed) == sorted(
        [(emails["ana"], c) for c in COURSES] + [(emails["beto"], COURSES[0])]
    )
    started = rows_of(client, coordinator, COMPLETIONS, status="in_progress")
    assert [(r["email"], r["course"]) for r in started] == [(emails["beto"], COURSES[1])]
    assert started[0]["last_activity_at"].endswith("+00:00")
    assert {
        r["email"] for r in rows_of(client, coordinator, COMPLETIONS, status="not_started")
    } == {emails["dario"]}
    # The programme filter: the enrolments in its courses only.
    other = factories.learner(client, country="GT")
    client.post("/api/v1/courses/codigo-migracion/enroll", headers=other[1])
    assert other[0]["email"] in {r["email"] for r in rows_of(client, coordinator, COMPLETIONS)}
    in_programme = rows_of(client, coordinator, COMPLETIONS, programme=PROGRAMME)
    assert {r["course"] for r in in_programme} == set(COURSES)
    assert len(in_programme) == 8
    # Report days on the last activity, in the institution's calendar.
    today = datetime.now(client.app.state.settings.zone).date()  # type: ignore[attr-defined]
    active = rows_of(client, coordinator, COMPLETIONS, date_field="last_activity_at",
                     since=str(today), until=str(today))  # fmt: skip
    assert {r["email"] for r in active} == {emails["ana"], emails["beto"]}
    for bad in ({"status": "gone"}, {"programme": "nope"}, {"date_field": "withdrawn_at"}):
        assert client.get(COMPLETIONS, params=bad, headers=coordinator).status_code == 422, bad

    text = client.get(COMPLETIONS, params={"format": "csv", "status": "withdrawn"},
                      headers=coordinator).content.decode("utf-8-sig")  # fmt: skip
    table = list(csv.DictReader(io.StringIO(text)))
    assert {"last_activity_at", "withdrawn_at"} <= set(table[0])
    assert {r["status"] for r in table} == {"withdrawn"}
    assert len(table) == 4

    # Cohort counts leave the withdrawn out as well.
    cohorts = {c["code"]: c for c in client.get("/api/v1/cohorts", headers=coordinator).json()}
    assert COHORT in cohorts
    summary = client.get("/api/v1/reports/summary", params={"cohort": COHORT},
                         headers=coordinator).json()  # fmt: skip
    assert summary["enrolled"] == 3 + 2
    assert summary["completed"] == 3 + 1


def test_programme_page(bundled_client: TestClient) -> None:
    client = bundled_client
    api, emails = setup_programme(client)
    coordinator = factories.profile()
    factories.staff(client, Role.coordinator, email=coordinator["email"])
    login(client, coordinator["email"], coordinator["password"])
    page = client.get("/coordinator/programmes", params={"cohort": COHORT})
    assert page.status_code == 200, page.text
    html = page.text
    assert "Ana García" in html
    assert "Beto Núñez" in html
    assert "Carla Pérez" not in html
    assert "Darío Cú" not in html
    assert "<caption" in html
    assert 'scope="col"' in html
    diploma = rows_of(client, api, REPORT, cohort=COHORT)
    code = next(r["diploma"] for r in diploma if r["email"] == emails["ana"])
    assert f'href="/verify/{code}"' in html
    assert "3 de 3" in html  # courses of the programme, in the reader's language
    assert "1,4 de 3,8" in html  # Beto's hours
    assert f"/api/v1/reports/programmes?format=csv&amp;cohort={COHORT}" in html
    other = client.get("/coordinator/programmes", params={"cohort": "otra", "country": "HN"})
    assert "Ningún participante coincide con estos filtros." in other.text
    refused = client.get("/coordinator/programmes", params={"programme": "nope"})
    assert refused.status_code == 422
    cohorts_page = client.get("/coordinator/cohorts")
    assert f'href="/coordinator/programmes?cohort={COHORT}"' in cohorts_page.text


def test_one_programme_counts_as_several_do(bundled_client: TestClient) -> None:
    """One programme's participants are grouped by learner alone, several programmes'
    through the programme → course join (programmes.programme_rows): the same rows, in the
    same order, whichever way a programme is counted."""
    client = bundled_client
    setup_programme(client)
    # A participant of no cohort: enrolled in one course by herself.
    loner = factories.learner(client, full_name="Elena Sin Cohorte", country="GT")
    enrolled = client.post(f"/api/v1/courses/{COURSES[0]}/enroll", headers=loner[1])
    assert enrolled.status_code in (200, 201), enrolled.text
    catalogue = client.app.state.catalogue  # type: ignore[attr-defined]
    programme = catalogue.programmes[PROGRAMME]
    # Another programme of two of its courses, sorted before it.
    other = dataclasses.replace(programme, id=f"a-{PROGRAMME}", courses=(COURSES[1], COURSES[0]))
    courses = dict(catalogue.courses)

    def rows(*counted: Any, **filters: str) -> list[dict[str, Any]]:
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            return list(
                programmes.programme_rows(
                    session,
                    programmes=counted,
                    courses=courses,
                    filters=programmes.ProgrammeFilters(**filters),
                )
            )

    for filters in ({}, {"cohort": COHORT}, {"country": "GT"}):
        one = rows(programme, **filters)
        both = rows(other, programme, **filters)
        assert one, filters
        assert [r for r in both if r["programme"] == PROGRAMME] == one, filters
        assert [r["programme"] for r in both] == sorted(r["programme"] for r in both)
        assert rows(other, programme, programme=PROGRAMME, **filters) == one, filters
        assert rows(other, programme, programme=other.id, **filters) == [
            r for r in both if r["programme"] == other.id
        ], filters
    # By cohort code, one of none first on SQLite and last on PostgreSQL, as each sorts NULL.
    engine = client.app.state.engine  # type: ignore[attr-defined]
    codes = [COHORT, COHORT, "otra"]
    expected = [None, *codes] if engine.dialect.name == "sqlite" else [*codes, None]
    assert [r["cohort"] for r in rows(programme)] == expected
    by_name = {r["learner"]: r for r in rows(other, programme) if r["programme"] == other.id}
    assert {k: by_name["=Beto Núñez"][k] for k in
            ("courses_completed", "courses_total", "hours_completed", "hours_total", "status")} == {
        "courses_completed": 1, "courses_total": 2, "hours_completed": 1.4, "hours_total": 2.6,
        "status": "in_progress",
    }  # fmt: skip
    ana = by_name["Ana García"]
    assert (ana["courses_completed"], ana["status"], ana["diploma"]) == (2, "completed", None)
    assert ana["completed_at"] is not None
    assert by_name["Darío Cú"]["status"] == "not_started"
