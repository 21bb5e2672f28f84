"""The institution's calendar (ECAMPUS_TIMEZONE): a course finished at 23:30 in Guatemala on
14 March reads 14 March everywhere people read it, and report days are local days."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import update

from ecampus.accounts.models import Role
from ecampus.certificates.models import Certificate
from ecampus.learning.models import Enrollment
from tests import factories
from tests.web.test_pages import login

COURSE = "demo-course"
REPORT = "/api/v1/reports/completions"
# 23:30 on 14 March 2025 in Guatemala (UTC-6, no daylight saving) is 05:30 on 15 March in UTC.
LATE_EVENING = datetime(2025, 3, 15, 5, 30, tzinfo=UTC)


def complete_course(client: TestClient, auth: dict[str, str]) -> str:
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    outline = client.get(f"/api/v1/courses/{COURSE}").json()
    for item in (i for m in outline["modules"] for i in m["items"]):
        base = f"/api/v1/courses/{COURSE}/items/{item['id']}"
        if item["type"] == "quiz":
            answers = factories.answer_key(client, COURSE, item["id"])
            done = client.post(f"{base}/attempts", headers=auth, json={"answers": answers})
        else:
            done = client.post(f"{base}/complete", headers=auth)
        assert done.status_code == 200, done.text
    mine = client.get("/api/v1/me/courses", headers=auth).json()
    code: str = mine[0]["certificate"]
    assert code
    return code


def pin_completion(client: TestClient, code: str, moment: datetime) -> None:
    """Move the completion and its certificate to ``moment`` (stored in UTC, as always)."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    certificates, enrolments = Certificate.__table__, Enrollment.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        issued = connection.execute(
            update(certificates).where(certificates.c.code == code).values(issued_at=moment)
        )
        completed = connection.execute(
            update(enrolments).where(enrolments.c.course_id == COURSE).values(completed_at=moment)
        )
    assert (issued.rowcount, completed.rowcount) == (1, 1)


def pdf_text(data: bytes) -> str:
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


def test_a_late_evening_completion_keeps_its_local_day(client: TestClient) -> None:
    learner, auth = factories.learner(client)
    code = complete_course(client, auth)
    pin_completion(client, code, LATE_EVENING)

    pdf = client.get(f"/certificates/{code}.pdf")
    assert pdf.status_code == 200
    printed = pdf_text(pdf.content)
    assert "14 de marzo de 2025" in printed
    assert "15 de marzo" not in printed

    page = client.get(f"/verify/{code}").text
    assert "14 de marzo de 2025" in page
    assert "15 de marzo" not in page
    english = client.get(f"/verify/{code}", params={"lang": "en"}).text
    assert "March 14, 2025" in english

    # The JSON keeps the exact instant, in UTC.
    verified = client.get(f"/api/v1/certificates/{code}").json()
    assert datetime.fromisoformat(verified["issued_at"]) == LATE_EVENING
    assert verified["issued_at"].endswith("+00:00")

    login(client, learner["email"], learner["password"])
    mine = client.get("/me").text
    assert "Completado el 14 de marzo de 2025" in mine
    assert "Emitido el 14 de marzo de 2025" in mine
    assert "Issued on March 14, 2025" in client.get("/me", params={"lang": "en"}).text

    coordinator = factories.profile()
    headers = factories.staff(client, Role.coordinator, **coordinator)
    login(client, coordinator["email"], coordinator["password"])
    found = client.get("/coordinator/certificates", params={"code": code})
    assert found.status_code == 200
    assert "14 de marzo de 2025" in found.text
    assert "15 de marzo" not in found.text

    def emails(**params: str) -> set[str]:
        response = client.get(
            REPORT, params={"date_field": "completed_at", **params}, headers=headers
        )
        assert response.status_code == 200, response.text
        return {row["email"] for row in response.json()}

    assert emails(since="2025-03-14", until="2025-03-14") == {learner["email"]}
    assert emails(since="2025-03-15", until="2025-03-15") == set()
    assert emails(since="2025-03-15") == set()
    assert emails(until="2025-03-13") == set()
    assert emails(until="2025-03-14") == {learner["email"]}
    # The rows still carry the UTC instant.
    row = client.get(REPORT, params={"since": "2025-03-14", "until": "2025-03-14",
                                     "date_field": "completed_at"}, headers=headers).json()[0]  # fmt: skip
    assert datetime.fromisoformat(row["completed_at"]) == LATE_EVENING

    dashboard = client.get("/coordinator", params={"since": "2025-03-14", "until": "2025-03-14",
                                                  "date_field": "completed_at"})  # fmt: skip
    assert dashboard.status_code == 200
    assert learner["email"] in dashboard.text
    assert "14 mar 2025" in dashboard.text  # the completion day in the enrolments table
    next_day = client.get("/coordinator", params={"since": "2025-03-15", "until": "2025-03-15",
                                                 "date_field": "completed_at"})  # fmt: skip
    assert learner["email"] not in next_day.text


def test_days_at_the_edge_of_the_calendar_are_not_an_error(client: TestClient) -> None:
    learner, auth = factories.learner(client)
    complete_course(client, auth)
    headers = factories.staff(client, Role.coordinator)
    wide = client.get(REPORT, headers=headers, params={"since": "0001-01-01", "until": "9999-12-31",
                                                       "date_field": "completed_at"})  # fmt: skip
    assert wide.status_code == 200, wide.text
    assert [row["email"] for row in wide.json()] == [learner["email"]]
