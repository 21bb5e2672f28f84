"""A coordinator follows a diploma cohort in the real Chromium: from the cohorts page to the
programme page (courses and hours of each participant, the diploma's code), then downloads
the programme report."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ContextFactory, LiveServer
from tests.browser.helpers import Api, complete_course, register_learner
from tests.browser.test_coordinator import download, log_in

pytestmark = pytest.mark.browser

PROGRAMME = "diplomado-migracion-laboral"
COURSES = ("migracion-laboral", "reclutamiento-equitativo", "proteccion-migrantes-trabajadores")
HEADER = [
    "learner", "email", "institution", "institution_type", "country", "cohort", "programme",
    "programme_title", "courses_completed", "courses_total", "hours_completed", "hours_total",
    "status", "last_activity_at", "diploma", "completed_at",
]  # fmt: skip


def test_coordinator_follows_a_programme_cohort_and_downloads_its_report(
    browser_context: ContextFactory,
    live_server: LiveServer,
    tmp_path: Path,
    screenshot: Callable[[Page, str], Path],
) -> None:
    coordinator = Api(live_server.base_url).as_user(
        live_server.coordinator_email, live_server.coordinator_password
    )
    code = f"diplomado-{uuid.uuid4().hex[:6]}"
    name = "Diplomado regional 2026"
    coordinator.call("POST", "/api/v1/cohorts", json_body={"code": code, "name": name})
    graduate = register_learner(
        live_server.base_url, prefix="dip-done", full_name="Xóchitl Batz Quiñónez", country="GT"
    )
    starter = register_learner(
        live_server.base_url, prefix="dip-new", full_name="Nehemías Ordóñez", country="PA"
    )
    coordinator.call(
        "POST",
        f"/api/v1/cohorts/{code}/enrollments",
        json_body={"programme": PROGRAMME, "emails": [graduate.email, starter.email]},
    )
    for course_id in COURSES:
        complete_course(graduate, course_id)
    complete_course(starter, COURSES[0])
    diploma = next(
        c["code"]
        for c in graduate.api.call("GET", "/api/v1/me/certificates")
        if c["kind"] == "programme"
    )

    page = browser_context().new_page()
    log_in(page, live_server.coordinator_email, live_server.coordinator_password)
    page.goto("/coordinator")
    page.get_by_role("link", name="Seguimiento de programas").click()
    expect(page).to_have_url(re.compile(r"/coordinator/programmes$"))
    page.goto("/coordinator/cohorts")
    page.get_by_role("link", name=f"Avance en el programa · {name}").first.click()
    expect(page).to_have_url(re.compile(rf"/coordinator/programmes\?cohort={code}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Seguimiento de programas")
    expect(page.get_by_label("Cohorte")).to_have_value(code)

    table = page.get_by_role("table", name=re.compile("Participantes"))
    expect(table.get_by_role("row")).to_have_count(3)  # the header and two participants
    done = table.get_by_role("row").filter(has_text=graduate.email)
    expect(done).to_contain_text("Xóchitl Batz Quiñónez")
    expect(done).to_contain_text("3 de 3")
    expect(done).to_contain_text("3,8 de 3,8")
    expect(done).to_contain_text("Completado")
    expect(done.get_by_role("link", name=diploma)).to_have_attribute("href", f"/verify/{diploma}")
    started = table.get_by_role("row").filter(has_text=starter.email)
    expect(started).to_contain_text("1 de 3")
    expect(started).to_contain_text("1,4 de 3,8")
    expect(started).to_contain_text("En progreso")
    screenshot(page, "programme")

    # Filter by country: the participant from Panama only.
    page.get_by_label("País", exact=True).select_option(label="Panamá")
    page.get_by_role("button", name="Aplicar").click()
    expect(page).to_have_url(re.compile(r"country=PA"))
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table.get_by_role("row").filter(has_text=starter.email)).to_have_count(1)

    page.goto(f"/coordinator/programmes?cohort={code}")
    got = download(page, "Descargar CSV", tmp_path / "programme.csv")
    assert got is not None, "the CSV download failed"
    file_name, data = got
    assert file_name.startswith(f"programmes-all-{code}-"), file_name
    assert file_name.endswith(".csv"), file_name
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    records = {row[1]: dict(zip(HEADER, row, strict=True)) for row in rows[1:]}
    assert set(records) == {graduate.email, starter.email}
    assert records[graduate.email]["diploma"] == diploma
    assert records[graduate.email]["status"] == "completed"
    assert (
        records[graduate.email]["courses_completed"],
        records[graduate.email]["hours_completed"],
    ) == ("3", "3.8")
    assert records[starter.email]["status"] == "in_progress"
    assert records[starter.email]["diploma"] == ""

    got = download(page, "Descargar XLSX", tmp_path / "programme.xlsx")
    assert got is not None, "the XLSX download failed"
    assert got[0].endswith(".xlsx")
    assert got[1][:2] == b"PK"
