"""Completion reports: filters, formats and formula injection."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, timedelta
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from ecampus.accounts.models import Role
from ecampus.reports import export, queries
from ecampus.reports.queries import Filters
from ecampus.web.routes import api_reports
from tests import factories
from tests.web.test_dashboard import build

COURSE = "demo-course"
REPORT = "/api/v1/reports/completions"


def setup_learners(client: TestClient) -> dict[str, str]:
    people = {
        "gt": factories.learner(client, country="GT", institution_type="government"),
        "sv": factories.learner(client, country="SV", institution_type="academia",
                                full_name="=HYPERLINK(\"http://evil\")", institution="+cmd"),
        "hn": factories.learner(client, country="HN", institution_type="civil_society"),
    }  # fmt: skip
    for key in ("gt", "sv"):
        client.post(f"/api/v1/courses/{COURSE}/enroll", headers=people[key][1])
    client.post(f"/api/v1/courses/{COURSE}/items/leccion-1/complete", headers=people["gt"][1])
    return {k: v[0]["email"] for k, v in people.items()}


def test_filters_and_formats(client: TestClient) -> None:
    emails = setup_learners(client)
    coordinator = factories.staff(client, Role.coordinator)
    everyone = client.get(REPORT, headers=coordinator).json()
    assert {r["email"] for r in everyone} == {emails["gt"], emails["sv"]}
    row = next(r for r in everyone if r["email"] == emails["gt"])
    assert (row["progress"], row["status"], row["course_title"]) == (
        25,
        "in_progress",
        "Curso de prueba",
    )

    def emails_for(**params: str) -> set[str]:
        response = client.get(REPORT, params=params, headers=coordinator)
        assert response.status_code == 200, response.text
        return {r["email"] for r in response.json()}

    assert emails_for(country="sv") == {emails["sv"]}
    assert emails_for(institution_type="government") == {emails["gt"]}
    assert emails_for(course="other") == set()
    # Report days are the institution's days (ECAMPUS_TIMEZONE), not UTC days.
    today = datetime.now(client.app.state.settings.zone).date()  # type: ignore[attr-defined]
    assert emails_for(since=str(today), until=str(today)) == {emails["gt"], emails["sv"]}
    assert emails_for(since=str(today + timedelta(days=1))) == set()
    assert emails_for(date_field="completed_at", since=str(today)) == set()
    for bad in ({"format": "pdf"}, {"since": "yesterday"}, {"country": "GTM"},
                {"institution_type": "x"}, {"since": "2030-01-02", "until": "2030-01-01"}):  # fmt: skip
        assert client.get(REPORT, params=bad, headers=coordinator).status_code == 422, bad

    csv_text = client.get(REPORT, params={"format": "csv"}, headers=coordinator).content.decode(
        "utf-8-sig"
    )
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    evil = next(r for r in rows if r["email"] == emails["sv"])
    assert evil["learner"].startswith("'=")  # formula injection escaped
    assert evil["institution"] == "'+cmd"

    xlsx = client.get(REPORT, params={"format": "xlsx"}, headers=coordinator)
    assert xlsx.headers["content-disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.iter_rows(values_only=True))
    learner_col = values[0].index("learner")
    names = [r[learner_col] for r in values[1:]]
    assert '=HYPERLINK("http://evil")' in names  # stored as text, never as a formula
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_cohorts(client: TestClient) -> None:
    emails = setup_learners(client)
    coordinator = factories.staff(client, Role.coordinator)
    created = client.post(
        "/api/v1/cohorts",
        headers=coordinator,
        json={"code": "diplomado-2026", "name": "Diplomado 2026"},
    )
    assert created.status_code == 201
    assert (
        client.post(
            "/api/v1/cohorts", headers=coordinator, json={"code": "diplomado-2026", "name": "Otro"}
        ).status_code
        == 409
    )
    result = client.post(
        "/api/v1/cohorts/diplomado-2026/enrollments",
        headers=coordinator,
        json={"course": COURSE, "emails": [emails["hn"], emails["gt"], "ghost@example.org"]},
    ).json()
    assert result == {
        "enrolled": [emails["hn"]],
        "already": [emails["gt"]],
        "unknown": ["ghost@example.org"],
    }
    rows = client.get(REPORT, params={"cohort": "diplomado-2026"}, headers=coordinator).json()
    assert {r["email"] for r in rows} == {emails["hn"], emails["gt"]}
    assert client.post("/api/v1/cohorts/nope/enrollments", headers=coordinator,
                       json={"course": COURSE, "emails": [emails["hn"]]}).status_code == 404  # fmt: skip
    summary = client.get("/api/v1/reports/summary", headers=coordinator).json()
    assert summary["enrolled"] == 3
    assert summary["countries"] == ["GT", "HN", "SV"]


def _summed(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary as it was once computed: the report's rows summed in Python."""
    per_course: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = per_course.setdefault(
            row["course"],
            {"course": row["course"], "title": row["course_title"], "enrolled": 0,
             "not_started": 0, "in_progress": 0, "completed": 0, "certificates": 0},
        )  # fmt: skip
        entry["enrolled"] += 1
        entry[row["status"]] = entry.get(row["status"], 0) + 1
        entry["certificates"] += 1 if row["certificate"] else 0
    courses = sorted(per_course.values(), key=lambda e: (e["title"].casefold(), e["course"]))
    return {
        "courses": courses,
        "enrolled": sum(e["enrolled"] for e in courses),
        "completed": sum(e["completed"] for e in courses),
        "countries": sorted({row["country"] for row in rows if row["country"]}),
    }


SUMMARY_PARAMS: list[dict[str, str]] = [
    {},
    {"status": "withdrawn"},
    {"status": "completed"},
    {"country": "GT"},
    {"institution_type": "government"},
    {"cohort": "DIP-A"},
    {"cohort": "NOPE"},
    {"course": "demo-course"},
    {"programme": "demo-programme"},
    {"date_field": "completed_at", "since": "2026-02-01", "until": "2026-03-31"},
    {"date_field": "last_activity_at", "since": "2000-01-01"},
]


@pytest.mark.parametrize("params", SUMMARY_PARAMS)
def test_summary_counts_in_sql_what_the_rows_add_up_to(
    client: TestClient, params: dict[str, str]
) -> None:
    """The summary is one grouped query; it must say what summing the report's rows says
    (withdrawn enrolments only with status=withdrawn, certificates, countries)."""
    build(client)
    coordinator = factories.staff(client, Role.coordinator)
    rows = client.get(REPORT, params=params, headers=coordinator).json()
    summary = client.get("/api/v1/reports/summary", params=params, headers=coordinator)
    assert summary.status_code == 200, summary.text
    assert summary.json() == _summed(rows)
    if not params:
        assert summary.json()["enrolled"] == 5  # six enrolments, one withdrawn
        assert sum(c["certificates"] for c in summary.json()["courses"]) == 2


def _rows_through_sqlalchemy(
    client: TestClient, filters: Filters, catalogue: Any
) -> list[dict[str, Any]]:
    """The report's rows as they were read before the driver's cursor: the same statement
    run by SQLAlchemy, its types converting each value."""
    courses = catalogue.courses.values()
    titles = {c.id: c.title for c in courses}
    groups = {c.id: catalogue.group_key(c.id) for c in courses}
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        result = session.execute(queries._completion_statement(filters)).all()
    return [
        {
            "learner": r[0],
            "email": r[1],
            "institution": r[2],
            "institution_type": r[3],
            "country": r[4],
            "course": r[5],
            "course_title": titles.get(r[5], r[5]),
            "cohort": r[6],
            "enrolled_at": r[7],
            "progress": r[8],
            "score": r[9],
            "status": queries.WITHDRAWN if r[14] is not None else r[10],
            "completed_at": r[11],
            "certificate": r[12],
            "course_group": groups.get(r[5], r[5]),
            "last_activity_at": r[13],
            "withdrawn_at": r[14],
        }
        for r in result
    ]


@pytest.mark.parametrize("params", SUMMARY_PARAMS)
def test_exports_equal_the_rows_cell_for_cell(
    client: TestClient, params: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CSV, XLSX and JSON, read on the driver's cursor and written a batch of columns at a
    time, hold what SQLAlchemy's rows written cell by cell (csv_cell, XlsxWriter's own
    writers) hold, for every filter: formulas, non-ASCII names, empty values, datetimes."""
    build(client)
    setup_learners(client)
    coordinator = factories.staff(client, Role.coordinator)
    seen: list[tuple[Filters, Any]] = []
    real = api_reports.report_columns

    def spy(session: Session, filters: Filters, catalogue: Any, **kwargs: Any) -> Any:
        seen.append((filters, catalogue))
        return real(session, filters, catalogue, **kwargs)

    monkeypatch.setattr(api_reports, "report_columns", spy)

    got_csv = client.get(REPORT, params={**params, "format": "csv"}, headers=coordinator)
    got_xlsx = client.get(REPORT, params={**params, "format": "xlsx"}, headers=coordinator)
    got_json = client.get(REPORT, params=params, headers=coordinator)
    assert got_csv.status_code == got_xlsx.status_code == got_json.status_code == 200

    filters, catalogue = seen[0]
    rows = _rows_through_sqlalchemy(client, filters, catalogue)
    keys = [key for key, _ in queries.COLUMNS]
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([label for _, label in queries.COLUMNS])
    for row in rows:
        writer.writerow([export.csv_cell(row[key]) for key in keys])
    assert got_csv.content == buffer.getvalue().encode("utf-8")

    slow = export.xlsx_column_bytes(
        export.column_batches(rows, keys), queries.COLUMNS, sheet_name="Completions", fast=False
    )
    with (
        zipfile.ZipFile(io.BytesIO(got_xlsx.content)) as got,
        zipfile.ZipFile(io.BytesIO(slow)) as expected,
    ):
        for name in ("xl/worksheets/sheet1.xml", "xl/styles.xml"):
            assert got.read(name) == expected.read(name), name

    assert got_json.content == b"".join(export.json_chunks(rows))
    if not params:
        assert any(row["learner"].startswith("=") for row in rows)
