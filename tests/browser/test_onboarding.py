"""A coordinator brings the 37 participants of a diploma in through the browser, with
JavaScript off (every step is a plain form): uploads the list, sees its three bad rows
highlighted, uploads the corrected list, imports it and gets every invitation link."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ContextFactory, LiveServer
from tests.browser.helpers import ROOT, Api
from tests.browser.test_coordinator import log_in

pytestmark = pytest.mark.browser

FIXTURES = ROOT / "tests" / "fixtures" / "participants"
PROGRAMME_TITLE = "Diplomado regional en migración laboral"


def participants_file(name: str, folder: Path, domain: str) -> Path:
    """The fixture as it is, but for the domain of its emails: the live server is shared by
    the session's tests, so each run brings in people nobody has imported yet."""
    text = (FIXTURES / name).read_text(encoding="utf-8-sig")
    copy = folder / name
    copy.write_text(text.replace("@example.org", f"@{domain}"), encoding="utf-8-sig")
    return copy


def test_coordinator_imports_the_diploma_participants(
    browser_context: ContextFactory,
    live_server: LiveServer,
    tmp_path: Path,
    screenshot: Callable[[Page, str], Path],
) -> None:
    run = uuid.uuid4().hex[:8]
    domain = f"d{run}.example.org"
    code = f"diplomado-{run}"
    coordinator = Api(live_server.base_url).as_user(
        live_server.coordinator_email, live_server.coordinator_password
    )
    coordinator.call(
        "POST", "/api/v1/cohorts", json_body={"code": code, "name": f"Diplomado {run}"}
    )
    with_errors = participants_file("diplomado-37.csv", tmp_path, domain)
    corrected = participants_file("diplomado-37-corregido.csv", tmp_path, domain)

    page = browser_context(javascript=False).new_page()
    log_in(page, live_server.coordinator_email, live_server.coordinator_password)
    page.goto("/coordinator/cohorts")
    page.get_by_role("link", name=f"Importar participantes a Diplomado {run}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Importar participantes")

    upload = page.locator("form").filter(has=page.get_by_label("Hoja de cálculo (CSV o XLSX)"))
    upload.get_by_label("Hoja de cálculo (CSV o XLSX)").set_input_files(with_errors)
    upload.get_by_label("Inscribirlos en").select_option(label=PROGRAMME_TITLE)
    upload.get_by_role("button", name="Revisar el archivo").click()

    # The three bad rows, named by spreadsheet row and column, and highlighted in the table.
    problems = page.get_by_role("alert")
    expect(problems).to_contain_text("3 problemas en el archivo")
    expect(problems.get_by_role("link")).to_have_text(
        ["Fila 10, columna Correo", "Fila 18, columna País", "Fila 31, columna Correo"]
    )
    rows = page.get_by_role("table", name=f"Las filas de {with_errors.name}")
    expect(rows.locator("td.cell-bad")).to_have_count(3)
    expect(
        rows.get_by_role("row").filter(has_text="Narnia").locator("td.cell-bad")
    ).to_contain_text("País desconocido: Narnia")
    expect(rows.get_by_role("row").filter(has_text="Tomás García Úbeda")).to_have_class("row-bad")
    expect(rows.get_by_role("row")).to_have_count(38)  # the header and 37 people
    screenshot(page, "preview-with-errors")

    # The corrected file, from the form under the preview.
    upload = page.locator("form").filter(has=page.get_by_label("Hoja de cálculo (CSV o XLSX)"))
    upload.get_by_label("Hoja de cálculo (CSV o XLSX)").set_input_files(corrected)
    upload.get_by_label("Inscribirlos en").select_option(label=PROGRAMME_TITLE)
    upload.get_by_role("button", name="Revisar el archivo").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Todas las filas están listas para importar."
    )
    expect(page.locator("td.cell-bad")).to_have_count(0)
    confirm = page.locator("form").filter(
        has=page.get_by_role("button", name="Importar 37 participantes")
    )
    confirm.get_by_label(
        "Enviar a cada nuevo participante su invitación por correo electrónico"
    ).check()
    confirm.get_by_role("button", name="Importar 37 participantes").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Resultado de la importación")
    expect(page.get_by_role("status").first).to_contain_text(
        "Se importaron todos los participantes."
    )
    result = page.get_by_role("table", name=f"Qué pasó con cada fila de {corrected.name}")
    links = result.locator("code.link")
    expect(links).to_have_count(37)
    first = links.first.inner_text()
    assert first.startswith(f"{live_server.base_url}/reset/")
    expect(result.get_by_role("row").filter(has_text=f"kevin.young@{domain}")).to_contain_text(
        "Cuenta creada"
    )
    screenshot(page, "imported")

    with page.expect_download() as info:
        page.get_by_role("button", name="Descargar el resultado (CSV)").click()
    saved = tmp_path / "resultado.csv"
    info.value.save_as(saved)
    table = list(csv.DictReader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
    assert len(table) == 37
    assert {r["Resultado"] for r in table} == {"Cuenta creada"}
    assert table[0]["Enlace de invitación"] == first

    # The invitation is a way in: the link opens the page where its person sets a password.
    invited = browser_context(javascript=False).new_page()
    opened = invited.goto(first)
    assert opened is not None
    assert opened.status == 200
