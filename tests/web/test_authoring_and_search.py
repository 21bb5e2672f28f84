"""The authoring page speaks its reader's language; the catalogue search finds lesson text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecampus.accounts.models import Role
from ecampus.app import create_app
from tests import factories
from tests.conftest import make_settings
from tests.web.test_pages import login

BROKEN = "id: roto\ntitle: Código de Migración: generalidades\nlanguage: es\n"
PASSPORTS = """\
id: documentos
title: Documentos de viaje
language: es
summary: Qué se lleva al cruzar una frontera.
hours: 0.1
topics: [viajes]
modules:
  - id: m1
    title: Primer módulo
    items:
      - id: requisitos
        title: Requisitos de salida
        minutes: 1
        body: |
          Para salir del país se presenta el PASAPORTE vigente o, en la región CA-4, el
          documento personal de identificación.
      - id: transito
        title: Viajes de tránsito
        minutes: 1
        body: Las personas en tránsito conservan sus documentos vigentes; nadie puede retenerlos.
      - id: cierre
        title: Cierre
        minutes: 2
        body: Repase lo aprendido con otra persona.
      - id: papeles
        title: Papeles
        minutes: 1
        body: Cada persona guarda sus papeles.
"""


@pytest.fixture
def app_client(database_url: str, courses_dir: Path) -> Iterator[TestClient]:
    (courses_dir / "roto").mkdir()
    (courses_dir / "roto" / "course.yaml").write_text(BROKEN, encoding="utf-8")
    (courses_dir / "documentos").mkdir()
    (courses_dir / "documentos" / "course.yaml").write_text(PASSPORTS, encoding="utf-8")
    with TestClient(create_app(make_settings(database_url, courses_dir))) as client:
        yield client


def sign_in_author(client: TestClient) -> dict[str, str]:
    data = factories.profile(language="es")
    auth = factories.staff(client, Role.author, **data)
    login(client, data["email"], data["password"])
    return auth


def test_authoring_page_in_spanish(app_client: TestClient) -> None:
    sign_in_author(app_client)
    page = app_client.get("/authoring")  # the author's profile language: Spanish
    assert page.status_code == 200
    text = page.text
    assert "<code>roto/course.yaml:2:27</code>" in text
    assert "error de sintaxis YAML: aquí no se admite un valor con «clave:»" in text
    assert (
        "Sugerencia: ponga el título entre comillas: title: "
        "&#34;Código de Migración: generalidades&#34;" in text
    )
    assert "errores: 1, advertencias:" in text
    assert "YAML syntax error" not in text
    assert "put the title in quotes" not in text
    english = app_client.get("/authoring", params={"lang": "en"}).text
    assert "YAML syntax error: mapping values are not allowed in this context" in english
    assert "Hint: put the title in quotes" in english
    assert "errors: 1, warnings:" in english
    assert "error de sintaxis" not in english


def test_authoring_api_in_the_readers_language(app_client: TestClient) -> None:
    auth = factories.staff(app_client, Role.author)

    def syntax_problem(
        params: dict[str, str] | None = None, language: str | None = None
    ) -> dict[str, object]:
        headers = {**auth, "accept-language": language} if language else auth
        response = app_client.get("/api/v1/authoring/status", headers=headers, params=params)
        assert response.status_code == 200
        body = response.json()
        problem = next(p for p in body["problems"] if p["file"] == "roto/course.yaml")
        return {"language": body["language"], **problem}

    english = syntax_problem()
    assert english["language"] == "en"
    assert english["message"] == "YAML syntax error: mapping values are not allowed in this context"
    assert english["hint"] == 'put the title in quotes: title: "Código de Migración: generalidades"'
    spanish = syntax_problem(params={"lang": "es"})
    assert spanish["language"] == "es"
    assert spanish["message"] == "error de sintaxis YAML: aquí no se admite un valor con «clave:»"
    assert spanish["hint"] == (
        'ponga el título entre comillas: title: "Código de Migración: generalidades"'
    )
    assert (spanish["line"], spanish["column"]) == (2, 27)
    header = syntax_problem(language="es-GT,es;q=0.9,en;q=0.5")
    assert header["message"] == spanish["message"]


def results(html: str) -> str:
    match = re.search(r'<section id="results".*?</section>', html, re.S)
    assert match
    return match.group(0)


@pytest.mark.parametrize("query", ["pasaporte", "PASAPORTE", "Pasaporte vigente", "pasapórte"])
def test_search_finds_a_word_inside_a_lesson(app_client: TestClient, query: str) -> None:
    found = results(app_client.get("/", params={"q": query, "lang": "es"}).text)
    assert "Documentos de viaje" in found
    assert "Curso de prueba" not in found
    assert "Aparece en 1 lección:" in found
    assert (
        '<a href="/courses/documentos/items/requisitos" lang="es">Requisitos de salida</a>' in found
    )
    assert "se presenta el <mark>PASAPORTE</mark> vigente" in found


def test_search_ignores_accents_and_names_every_matching_lesson(app_client: TestClient) -> None:
    found = results(app_client.get("/", params={"q": "transito", "lang": "en"}).text)
    assert "Found in 1 lesson:" in found
    assert "/courses/documentos/items/transito" in found
    assert "Las personas en <mark>tránsito</mark> conservan" in found
    both = results(app_client.get("/", params={"q": "VIGENTE", "lang": "en"}).text)
    assert "Found in 2 lessons:" in both
    assert "/courses/documentos/items/requisitos" in both
    assert "/courses/documentos/items/transito" in both
    assert "/courses/documentos/items/cierre" not in both


def test_search_lists_three_lessons_and_counts_the_rest(app_client: TestClient) -> None:
    found = results(app_client.get("/", params={"q": "persona", "lang": "es"}).text)
    assert "Aparece en 4 lecciones:" in found
    assert found.count('<p class="excerpt"') == 3
    assert "y 1 lección más" in found
    english = results(app_client.get("/", params={"q": "persona", "lang": "en"}).text)
    assert "and 1 more lesson" in english


def test_search_in_the_description_lists_no_lessons(app_client: TestClient) -> None:
    found = results(app_client.get("/", params={"q": "frontera", "lang": "es"}).text)
    assert "Documentos de viaje" in found
    assert "Aparece en" not in found
    nothing = results(app_client.get("/", params={"q": "pasaporte zzz", "lang": "es"}).text)
    assert "Documentos de viaje" not in nothing


def test_search_fragment_for_htmx(app_client: TestClient) -> None:
    fragment = app_client.get("/", params={"q": "pasaporte"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<mark>PASAPORTE</mark>" in fragment.text
