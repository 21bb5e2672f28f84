"""The coordinator's import pages through the real app: upload, preview, confirm, result,
CSV download (SQLite and PostgreSQL). The browser test drives the same pages in Chromium."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from ecampus.accounts.models import Role, User
from ecampus.reports.export import FORMULA_TRIGGERS
from tests import factories
from tests.web.test_pages import csrf, login

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "participants"
PAGE = "/coordinator/cohorts/diplomado-2026/import"


def coordinator(client: TestClient) -> None:
    person = factories.profile()
    auth = factories.staff(client, Role.coordinator, **person)
    made = client.post(
        "/api/v1/cohorts", headers=auth, json={"code": "diplomado-2026", "name": "Diplomado 2026"}
    )
    assert made.status_code == 201
    login(client, person["email"], person["password"])


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name}"
    return html.unescape(match.group(1))


def test_preview_highlights_bad_cells_and_confirm_imports(client: TestClient) -> None:
    coordinator(client)
    client.cookies.set("ecampus_lang", "es")
    page = client.get(PAGE)
    assert page.status_code == 200
    token = csrf(page.text)
    bad = FIXTURES / "diplomado-37.csv"
    preview = client.post(
        PAGE,
        data={"csrf_token": token, "step": "preview", "target": "course:demo-course"},
        files={"file": (bad.name, bad.read_bytes(), "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    page_html = preview.text
    assert page_html.count('class="cell-bad"') == 3
    for row in (10, 18, 31):
        assert f'href="#row-{row}"' in page_html
        assert f'<tr id="row-{row}" class="row-bad">' in page_html
    assert "Narnia" in page_html
    assert "Fila 18, columna País" in page_html  # the reader's language
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert (
            session.exec(select(User).where(User.email == "ana.xicara@example.org")).first() is None
        )
    # Confirming without choosing to leave the bad rows out imports nothing.
    carried = {
        "csrf_token": token,
        "step": "confirm",
        "target": hidden(page_html, "target"),
        "file_name": hidden(page_html, "file_name"),
        "file_data": hidden(page_html, "file_data"),
    }
    refused = client.post(PAGE, data=carried)
    assert refused.status_code == 200
    assert 'class="notice bad"' in refused.text
    result = client.post(PAGE, data={**carried, "skip_invalid": "true"})
    assert result.status_code == 200
    assert 'class="notice warn"' in result.text  # imported, but not everything
    assert result.text.count('<code class="link">http://testserver/reset/') == 34
    download = client.post(
        PAGE,
        data={
            "csrf_token": token,
            "step": "download",
            "result": hidden(result.text, "result"),
        },
    )
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert download.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(rows) == 37
    assert (
        sum(1 for r in rows if r["Enlace de invitación"].startswith("http://testserver/reset/"))
        == 34
    )
    assert {r["Fila"] for r in rows if not r["Enlace de invitación"]} == {"10", "18", "31"}


def test_fixed_file_imports_everyone_under_a_green_banner(client: TestClient) -> None:
    coordinator(client)
    token = csrf(client.get(PAGE).text)
    fixed = FIXTURES / "diplomado-37-corregido.csv"
    preview = client.post(
        PAGE,
        data={
            "csrf_token": token,
            "step": "preview",
            "target": "programme:demo-programme",
            "send_invitations": "true",
        },
        files={"file": (fixed.name, fixed.read_bytes(), "text/csv")},
    )
    assert 'class="cell-bad"' not in preview.text
    assert 'name="skip_invalid"' not in preview.text
    result = client.post(
        PAGE,
        data={
            "csrf_token": token,
            "step": "confirm",
            "target": "programme:demo-programme",
            "send_invitations": "true",
            "file_name": fixed.name,
            "file_data": hidden(preview.text, "file_data"),
        },
    )
    assert 'class="notice ok"' in result.text
    assert result.text.count('<code class="link">http://testserver/reset/') == 37


def test_upload_problems_are_explained_on_the_page(client: TestClient) -> None:
    coordinator(client)
    token = csrf(client.get(PAGE).text)
    no_file = client.post(
        PAGE, data={"csrf_token": token, "step": "preview", "target": "course:demo-course"}
    )
    assert no_file.status_code == 422
    binary = client.post(
        PAGE,
        data={"csrf_token": token, "step": "preview", "target": "course:demo-course"},
        files={"file": ("x.csv", b"\xff\xfe\x00\x01", "text/csv")},
    )
    assert binary.status_code == 422
    assert "CSV UTF-8" in binary.text
    no_target = client.post(
        PAGE,
        data={"csrf_token": token, "step": "preview", "target": "course:nope"},
        files={"file": ("x.csv", b"correo;nombre;pais\nx@example.org;Equis;GT\n", "text/csv")},
    )
    assert no_target.status_code == 422
    assert client.get("/coordinator/cohorts/nope/import").status_code == 404
    tampered = client.post(PAGE, data={"csrf_token": token, "step": "download", "result": "{"})
    assert tampered.status_code == 422


def test_download_guards_formulas(client: TestClient) -> None:
    coordinator(client)
    token = csrf(client.get(PAGE).text)
    rows = '[{"row": 2, "email": "=HYPERLINK(1)", "full_name": "+Ana", "status": "created", "enrolled": 1, "invitation": "", "errors": ""}]'
    download = client.post(PAGE, data={"csrf_token": token, "step": "download", "result": rows})
    text = download.content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text
    assert "'+Ana" in text
    assert all(not line.startswith(FORMULA_TRIGGERS) for line in text.splitlines()[1:])


def test_learners_cannot_import(client: TestClient) -> None:
    learner = factories.register(client)
    login(client, learner["email"], learner["password"])
    assert client.get(PAGE).status_code == 403


def test_enrolment_banner_is_green_only_when_everyone_was_enrolled(client: TestClient) -> None:
    learner = factories.register(client)
    coordinator(client)
    token = csrf(client.get("/coordinator/cohorts").text)
    form = {
        "csrf_token": token,
        "action": "enrol",
        "cohort": "diplomado-2026",
        "target": "programme:demo-programme",
    }
    missing = client.post(
        "/coordinator/cohorts", data={**form, "emails": "nadie@example.org\notra@example.org"}
    )
    assert missing.status_code == 200
    assert 'class="notice warn"' in missing.text
    assert 'class="notice ok"' not in missing.text
    assert 'href="/coordinator/cohorts/diplomado-2026/import"' in missing.text
    assert "2 personas aún no tienen cuenta" in missing.text
    everyone = client.post("/coordinator/cohorts", data={**form, "emails": learner["email"]})
    assert 'class="notice ok"' in everyone.text
    assert "Inscripciones actualizadas" in everyone.text
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        from ecampus.audit.models import AuditEntry
        from ecampus.learning.models import Enrollment

        assert session.exec(select(Enrollment.course_id)).all() == ["demo-course"]
        actions = [e.action for e in session.exec(select(AuditEntry))]
        assert actions.count("cohort.enrol") == 2
