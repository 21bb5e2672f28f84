"""A coordinator in the real Chromium finds a learner's certificates by a name typed without
accents, downloads their PDFs as a ZIP, and revokes a course certificate, which takes the
diploma that counted it along after a confirmation naming it."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ContextFactory, LiveServer
from tests.browser.helpers import complete_course, course, register_learner
from tests.browser.test_accessibility import assert_no_violations
from tests.browser.test_coordinator import log_in

pytestmark = pytest.mark.browser

PROGRAMME_COURSES = (
    "migracion-laboral",
    "reclutamiento-equitativo",
    "proteccion-migrantes-trabajadores",
)


def test_coordinator_finds_downloads_and_revokes_with_the_diploma(
    browser_context: ContextFactory,
    live_server: LiveServer,
    tmp_path: Path,
    screenshot: Callable[[Page, str], Path],
) -> None:
    learner = register_learner(
        live_server.base_url, prefix="xiomara", full_name="Xiomara Ángela Quiñónez Pérez"
    )
    for course_id in PROGRAMME_COURSES:
        complete_course(learner, course_id)
    mine = learner.api.call("GET", "/api/v1/me/certificates")
    by_subject = {c["subject_id"]: c["code"] for c in mine}
    diploma = by_subject["diplomado-migracion-laboral"]
    first = by_subject[PROGRAMME_COURSES[0]]

    page = browser_context().new_page()
    log_in(page, live_server.coordinator_email, live_server.coordinator_password)
    page.goto("/coordinator/certificates")
    expect(page.get_by_role("heading", level=1)).to_have_text("Certificados")
    page.get_by_label("Nombre, correo o código").fill("xiomara angela quinonez")
    page.get_by_role("button", name="Aplicar").click()
    expect(page).to_have_url(re.compile(r"q=xiomara(\+|%20)angela(\+|%20)quinonez"))
    table = page.get_by_role("table", name="Certificados y diplomas, los más recientes primero")
    rows = table.get_by_role("row").filter(has_text="Xiomara Ángela Quiñónez Pérez")
    expect(rows).to_have_count(4)  # three course certificates and the diploma
    expect(table.get_by_role("link", name=diploma, exact=True)).to_have_attribute(
        "href", f"/verify/{diploma}"
    )
    screenshot(page, "certificates-found")
    assert_no_violations(page, "the certificates list")

    with page.expect_download() as info:
        page.get_by_role("link", name="Descargar los PDF (ZIP)").click()
    saved = tmp_path / "certificados.zip"
    info.value.save_as(saved)
    assert info.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        assert names[0] == "index.csv"
        assert sorted(names[1:]) == sorted(f"{code}.pdf" for code in by_subject.values())
        index = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode("utf-8-sig"))))
        assert {r["learner"] for r in index} == {"Xiomara Ángela Quiñónez Pérez"}
        assert all(archive.read(name).startswith(b"%PDF-") for name in names[1:])

    # Revoke the first course's certificate: the diploma that counted it goes with it.
    title = course(PROGRAMME_COURSES[0]).title
    rows.filter(has_text=title).get_by_role("link", name=f"Gestionar {first}").click()
    expect(page.get_by_role("heading", level=2)).to_have_text(title)
    page.get_by_label("Motivo de la revocación").fill("Plagio comprobado en la evaluación")
    page.get_by_role("button", name="Revocar", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmar la revocación")
    going = page.get_by_role("table", name=f"Diplomas que se revocan con {first}")
    expect(going.get_by_role("link", name=diploma, exact=True)).to_be_visible()
    screenshot(page, "revocation-confirm")
    assert_no_violations(page, "the revocation confirmation")
    page.get_by_role("button", name="Revocarlo junto con 1 diploma").click()
    expect(page.get_by_role("status")).to_contain_text("Certificado revocado.")
    expect(page.get_by_role("status").get_by_role("link", name=diploma, exact=True)).to_be_visible()

    page.goto(f"/verify/{diploma}")
    expect(page.get_by_text("Este certificado fue revocado")).to_be_visible()
    page.goto("/coordinator/certificates?q=nadie-con-este-nombre")
    expect(page.get_by_role("status")).to_contain_text(
        "Ningún certificado ni diploma coincide con estos filtros."
    )
    assert_no_violations(page, "an empty certificates search")
    page.goto("/coordinator/certificates?q=quinonez&status=revoked")
    revoked = page.get_by_role("table", name="Certificados y diplomas, los más recientes primero")
    expect(revoked.get_by_role("row").filter(has_text="Revocado")).to_have_count(2)
    screenshot(page, "certificates-revoked")
