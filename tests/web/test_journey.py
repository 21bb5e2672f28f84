"""The whole journey of SPEC.md through the JSON API, on the bundled Migration Code course."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from ecampus.accounts.models import Role
from tests import factories

COURSE = "codigo-migracion"


def test_learner_completes_the_migration_code_course(
    bundled_client: TestClient, tmp_path: Path
) -> None:
    client = bundled_client
    data, auth = factories.learner(client, full_name="Ana Lucía Pérez", country="GT")

    catalogue = client.get("/api/v1/courses").json()
    assert COURSE in [c["id"] for c in catalogue]
    outline = client.get(f"/api/v1/courses/{COURSE}").json()
    assert "answer" not in str(outline)
    items = [i for m in outline["modules"] for i in m["items"]]
    assert {i["type"] for i in items} == {"lesson", "quiz"}

    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200

    first_quiz = next(i["id"] for i in items if i["type"] == "quiz")
    for item in items:
        detail = client.get(f"/api/v1/courses/{COURSE}/items/{item['id']}", headers=auth)
        assert detail.status_code == 200
        body = detail.json()
        if item["type"] == "lesson":
            assert body["html"].strip()
            done = client.post(
                f"/api/v1/courses/{COURSE}/items/{item['id']}/complete", headers=auth
            )
            assert done.status_code == 200
            continue
        # Quizzes never carry answers or explanations before submitting.
        assert all("answer" not in q and "explanation" not in q for q in body["questions"])
        url = f"/api/v1/courses/{COURSE}/items/{item['id']}/attempts"
        if item["id"] == first_quiz:
            failed = client.post(
                url,
                headers=auth,
                json={"answers": factories.wrong_answers(client, COURSE, item["id"])},
            ).json()
            assert failed["passed"] is False
            assert failed["score"] == 0
            assert failed["attempt"] == 1
            assert all(r["explanation"] for r in failed["results"])
        passed = client.post(
            url, headers=auth, json={"answers": factories.answer_key(client, COURSE, item["id"])}
        )
        assert passed.status_code == 200, passed.text
        assert passed.json()["passed"] is True
        assert passed.json()["score"] == 100

    mine = client.get("/api/v1/me/courses", headers=auth).json()
    assert len(mine) == 1
    entry = mine[0]
    assert entry["course_id"] == COURSE
    assert entry["progress"] == 100
    assert entry["status"] == "completed"
    assert entry["score"] == 100
    assert entry["completed_at"]
    code = entry["certificate"]
    assert code

    verified = client.get(f"/api/v1/certificates/{code}").json()
    assert verified["valid"] is True
    assert verified["revoked"] is False
    assert verified["learner_name"] == "Ana Lucía Pérez"
    assert verified["course_title"] == "Código de Migración de Guatemala y su reglamento"
    assert verified["hours"] == 2.2
    assert verified["score"] == 100

    pdf = client.get(f"/certificates/{code}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    _check_qr(pdf.content, f"http://testserver/verify/{code}", tmp_path)
    page = client.get(f"/verify/{code}")
    assert page.status_code == 200
    assert "Ana Lucía Pérez" in page.text

    coordinator = factories.staff(client, Role.coordinator)
    report = client.get(
        "/api/v1/reports/completions",
        params={"format": "csv", "course": COURSE},
        headers=coordinator,
    )
    assert report.status_code == 200
    assert report.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig"))))
    row = next(r for r in rows if r["email"] == data["email"])
    assert row["status"] == "completed"
    assert row["certificate"] == code
    assert row["progress"] == "100"
    assert row["country"] == "GT"

    xlsx = client.get(
        "/api/v1/reports/completions",
        params={"format": "xlsx", "country": "gt"},
        headers=coordinator,
    )
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    header = values[0]
    found = [dict(zip(header, v, strict=True)) for v in values[1:]]
    assert any(r["email"] == data["email"] and r["certificate"] == code for r in found)


def _check_qr(pdf: bytes, expected: str, tmp_path: Path) -> None:
    """Read the QR code back from the rendered PDF, as a phone would."""
    import shutil

    if not (shutil.which("pdftoppm") and shutil.which("zbarimg")):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftoppm and zbarimg (poppler-utils, zbar-tools) are needed to read the QR")
    source = tmp_path / "certificate.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", str(source), str(tmp_path / "page")], check=True
    )
    image = next(tmp_path.glob("page*.png"))
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert decoded == expected


@pytest.mark.parametrize(
    "path", ["/", "/courses/codigo-migracion", "/login", "/register", "/verify"]
)
def test_public_pages_render(bundled_client: TestClient, path: str) -> None:
    response = bundled_client.get(path)
    assert response.status_code == 200
    assert "<main" in response.text


def test_reports_group_translations(bundled_client: TestClient) -> None:
    client = bundled_client
    _data, spanish = factories.learner(client, language="es")
    _data, english = factories.learner(client, language="en")
    client.post("/api/v1/courses/migracion-laboral/enroll", headers=spanish)
    client.post("/api/v1/courses/labour-migration-basics/enroll", headers=english)
    coordinator = factories.staff(client, Role.coordinator)
    rows = client.get(
        "/api/v1/reports/completions",
        params={"course_group": "labour-migration-basics"},
        headers=coordinator,
    ).json()
    assert sorted(r["course"] for r in rows) == ["labour-migration-basics", "migracion-laboral"]
    assert {r["course_group"] for r in rows} == {"labour-migration-basics"}
    listed = client.get("/api/v1/courses").json()
    assert next(c for c in listed if c["id"] == "migracion-laboral")["translations"] == [
        "labour-migration-basics"
    ]
