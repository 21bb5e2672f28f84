"""What people type comes back as text, never as markup, a formula or a way out of the site:
hostile names in pages, the PDF, CSV and XLSX; open redirects through `next`; path
traversal through course media."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from ecampus.accounts.models import Role
from ecampus.web.routes.html_account import safe_next
from tests import factories

COURSE = "demo-course"
HOSTILE_NAMES = [
    '<script>alert("x")</script> Ana',
    '"><img src=x onerror=alert(1)> Luis',
    '=HYPERLINK("http://evil.example","x") Rosa',
    "+SUM(1+1) Marta",
    "-2+3 Pedro",
    "@SUM(A1) Juan",
    'O\'Brien "Tito" & Co',
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def finish(client: TestClient, headers: dict[str, str]) -> str:
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=headers)
    course = client.app.state.catalogue.get(COURSE)  # type: ignore[attr-defined]
    for item_id in course.order:
        if item_id == "quiz-1":
            answers = factories.answer_key(client, COURSE, item_id)
            client.post(
                f"/api/v1/courses/{COURSE}/items/{item_id}/attempts",
                json={"answers": answers},
                headers=headers,
            )
        else:
            client.post(f"/api/v1/courses/{COURSE}/items/{item_id}/complete", headers=headers)
    progress = client.get(f"/api/v1/courses/{COURSE}/progress", headers=headers).json()
    assert progress["certificate"], progress
    return str(progress["certificate"])


def page(client: TestClient, path: str, token: dict[str, str]) -> str:
    cookie = token["Authorization"].removeprefix("Bearer ")
    response = client.get(path, headers={"Cookie": f"ecampus_session={cookie}"})
    client.cookies.clear()
    assert response.status_code == 200, (path, response.status_code)
    return response.text


def assert_escaped(html: str, name: str, where: str, *, shown: bool = True) -> None:
    """No markup from the name; where the page shows the name, it shows it escaped."""
    assert "<script>alert" not in html, where
    assert "<img src=x" not in html, where
    if shown:
        escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        variants = {escaped.replace('"', q).replace("'", a) for q in ('"', "&#34;", "&quot;")
                    for a in ("'", "&#39;", "&#x27;")}  # fmt: skip
        assert any(v in html for v in variants), (where, name)


def test_hostile_names_stay_text_everywhere(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    people: dict[str, tuple[dict[str, str], str]] = {}
    for n, name in enumerate(HOSTILE_NAMES):
        _data, headers = factories.learner(
            client, full_name=name, institution=f"=cmd|' /C calc'!A{n}"
        )
        people[name] = (headers, finish(client, headers))

    for name, (headers, code) in people.items():
        assert_escaped(page(client, "/me", headers), name, f"/me of {name}", shown=False)
        assert_escaped(page(client, f"/verify/{code}", headers), name, f"/verify of {name}")
        assert_escaped(
            page(client, f"/coordinator/certificates?code={code}", coordinator), name, "lookup"
        )
        assert client.get(f"/api/v1/certificates/{code}").json()["learner_name"] == name
        pdf = client.get(f"/certificates/{code}.pdf")
        assert pdf.status_code == 200
        text = " ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert " ".join(name.split()) in " ".join(text.split()), (name, text[:300])
    dashboard = page(client, "/coordinator", coordinator)
    for name in HOSTILE_NAMES:
        assert_escaped(dashboard, name, "dashboard")

    report = "/api/v1/reports/completions"
    csv_text = client.get(report, params={"format": "csv"}, headers=coordinator).content.decode(
        "utf-8-sig"
    )
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(rows) == len(HOSTILE_NAMES)
    for row in rows:
        for column, value in row.items():
            assert not (value or "").startswith(FORMULA_START), (column, value)
    names = {row["learner"].removeprefix("'") for row in rows}
    assert names == set(HOSTILE_NAMES)

    xlsx = client.get(report, params={"format": "xlsx"}, headers=coordinator)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    assert all(cell.hyperlink is None for cell in cells)
    assert set(HOSTILE_NAMES) <= {cell.value for cell in cells}


OFF_SITE = [
    "https://evil.example/",
    "http:evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/%0d%0aSet-Cookie:x=1",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_next_keeps_redirects_on_the_site(target: str) -> None:
    kept = safe_next(target)
    assert kept == "/" or (kept.startswith("/") and not kept.startswith(("//", "/\\"))), kept
    assert not any(ord(c) < 0x20 for c in kept)


def test_no_open_redirect_through_next(client: TestClient) -> None:
    data, _headers = factories.learner(client)
    for target in OFF_SITE:
        # Signing in with the target in the form.
        login_page = client.get("/login", params={"next": target})
        csrf = login_page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        response = client.post(
            "/login",
            data={"email": data["email"], "password": data["password"], "next": target,
                  "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert response.status_code == 303, response.text
        assert_on_site(response.headers["location"], target)
        client.cookies.pop("ecampus_session", None)
        # Choosing a language.
        response = client.get("/lang/en", params={"next": target}, follow_redirects=False)
        assert_on_site(response.headers["location"], target)
        # Looking a certificate code up.
        response = client.get("/verify", params={"code": target}, follow_redirects=False)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/verify/"), target
    # The login page never offers an off-site target in its form either.
    for target in OFF_SITE:
        html = client.get("/login", params={"next": target}).text
        assert "evil.example" not in html, target


def assert_on_site(location: str, target: str) -> None:
    assert location.startswith("/"), (target, location)
    assert not location.startswith(("//", "/\\")), (target, location)
    assert not any(ord(c) < 0x20 for c in location), (target, location)


def test_media_never_leaves_the_course_folder(client: TestClient, courses_dir: Path) -> None:
    folder = courses_dir / COURSE
    secret = courses_dir.parent / "secret.png"
    secret.write_bytes(b"\x89PNG secret outside the course")
    os.symlink(secret, folder / "img" / "link.png")
    os.symlink(folder / "course.yaml", folder / "img" / "answers.png")
    attempts: list[str] = [
        "../secret.png",
        "..%2fsecret.png",
        "%2e%2e/secret.png",
        "%2e%2e%2f%2e%2e%2fsecret.png",
        "img/../../secret.png",
        "....//secret.png",
        "..\\secret.png",
        "img/link.png",
        "img/answers.png",
        "course.yaml",
        "lessons/segunda.md",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "img/mapa.png%00.txt",
        "img/mapa.png/..",
        "img/" + "a" * 30_000 + ".png",
        "%ff%fe.png",
    ]
    for path in attempts:
        response = client.get(f"/courses/{COURSE}/media/{path}")
        assert 400 <= response.status_code < 500, (path[:80], response.status_code)
        assert b"secret outside" not in response.content
        assert b"answer:" not in response.content
    assert client.get(f"/courses/{COURSE}/media/img/mapa.png").status_code == 200  # the control
