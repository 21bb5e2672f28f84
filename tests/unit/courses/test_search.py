"""Catalogue search: words in lessons, ignoring case and accents, with the lesson named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecampus.courses import search
from ecampus.courses.content import CourseContent
from ecampus.courses.loader import load_course
from tests.unit.courses.test_loader import write_course

COURSE = """\
id: {id}
title: {title}
language: es
summary: Un curso de ejemplo.
hours: 0.05
topics: [migración]
modules:
  - id: m1
    title: Módulo
    items:
      - id: salida
        title: Salir del país
        minutes: 1
        body: |
          ## Documentos

          Para salir se presenta el **PASAPORTE** vigente o el DPI en la región
          CA-4; la Dirección General de Migración sella la salida.
      - id: retorno
        title: Volver con el pasaporte
        minutes: 1
        body: Al regresar, nadie puede retener sus documentos &amp; objetos.
      - id: q
        type: quiz
        title: Quiz
        minutes: 1
        questions:
          - id: q1
            type: true_false
            prompt: ¿El pasaporte es obligatorio?
            answer: true
"""


def course(tmp_path: Path, course_id: str = "viajes", title: str = "Viajes") -> CourseContent:
    folder = write_course(tmp_path / course_id, COURSE.format(id=course_id, title=title))
    content, problems = load_course(folder)
    assert content is not None, problems
    return content


@pytest.mark.parametrize("query", ["pasaporte", "PASAPORTE", "Pasapórte", "  pasaporte  "])
def test_a_word_in_a_lesson_ignoring_case_and_accents(tmp_path: Path, query: str) -> None:
    (found,) = search.search([course(tmp_path)], query)
    assert found.in_details is False
    assert [lesson.id for lesson in found.lessons] == ["salida", "retorno"]
    first = found.lessons[0]
    assert (first.before, first.match) == ("Documentos Para salir se presenta el ", "PASAPORTE")
    assert first.after.startswith(" vigente o el DPI")
    assert found.lessons[1].title == "Volver con el pasaporte"  # matched by its title


def test_accented_text_found_without_accents(tmp_path: Path) -> None:
    (found,) = search.search([course(tmp_path)], "region direccion")
    assert [lesson.id for lesson in found.lessons] == ["salida"]
    assert found.lessons[0].match == "región"


def test_every_word_must_occur_but_may_be_in_different_places(tmp_path: Path) -> None:
    content = course(tmp_path)
    assert search.search([content], "pasaporte inexistente") == []
    (found,) = search.search([content], "retener DPI")
    # No lesson has both words: the lessons with either are listed.
    assert {lesson.id for lesson in found.lessons} == {"salida", "retorno"}
    (entity,) = search.search([content], "documentos &")
    assert entity.lessons[0].id == "retorno"  # HTML entities are read as text


def test_quiz_answers_are_not_searched(tmp_path: Path) -> None:
    assert search.search([course(tmp_path)], "obligatorio") == []


def test_description_matches_come_first(tmp_path: Path) -> None:
    by_lesson = course(tmp_path, "uno", "Curso uno")
    by_title = course(tmp_path, "dos", "Pasaportes y visas")
    found = search.search([by_lesson, by_title], "pasaporte")
    assert [m.course.id for m in found] == ["dos", "uno"]
    assert [m.in_details for m in found] == [True, False]


def test_an_empty_query_keeps_every_course(tmp_path: Path) -> None:
    content = course(tmp_path)
    assert [m.course for m in search.search([content], "  ")] == [content]


def test_long_lessons_give_a_short_excerpt(tmp_path: Path) -> None:
    text = COURSE.format(id="largo", title="Largo").replace(
        "Al regresar,", "Al regresar, " + "texto de relleno " * 50 + "clave final " + "más " * 80
    )
    content, _problems = load_course(write_course(tmp_path, text))
    assert content is not None
    (found,) = search.search([content], "clave")
    lesson = found.lessons[0]
    assert lesson.before.startswith("…")
    assert lesson.after.endswith("…")
    assert len(lesson.before) <= search.EXCERPT_BEFORE + 2
    assert len(lesson.after) <= search.EXCERPT_AFTER + 2
    assert lesson.match == "clave"


def test_the_index_is_built_once_per_content_version(tmp_path: Path) -> None:
    content = course(tmp_path)
    first = search.index_of(content)
    assert search.index_of(content) is first
    edited = write_course(
        tmp_path / "viajes", COURSE.format(id="viajes", title="Viajes").replace("DPI", "documento")
    )
    changed, _problems = load_course(edited)
    assert changed is not None
    assert changed.version != content.version
    assert search.index_of(changed) is not first
    assert search.search([changed], "DPI") == []


def test_folding_keeps_positions_for_excerpts() -> None:
    folded, origin = search._fold("Straße ﬁnal")
    assert folded == "strasse final"
    assert origin is not None
    assert origin[5] == 4
    assert search._fold("Migración") == ("migracion", None)
