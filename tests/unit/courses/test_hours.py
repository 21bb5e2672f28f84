"""Honest hours: stated hours against item minutes, lesson minutes against their length."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecampus.courses import hours
from ecampus.courses.loader import load_catalogue, load_course
from tests.unit.courses.test_loader import write_course


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hola mundo", 2),
        ("# Título\n\nEl **Código** de Migración (Decreto 44-2016).", 7),
        ("Vea [el artículo](https://example.org/a/b/c) y <https://example.org>.", 4),
        ("![mapa](img/mapa.png) aquí\n\n[ref]: https://example.org/x", 2),
        ("| a | b |\n|---|---|\n| uno | dos |", 4),
        ("l'homme, it's well-known", 3),
    ],
)
def test_count_words(text: str, words: int) -> None:
    assert hours.count_words(text) == words


@pytest.mark.parametrize(
    ("minutes", "words", "warns"),
    [
        (5, 1000, False),  # 200 words a minute: the fastest pace
        (10, 1000, False),  # 100 words a minute: the slowest
        (4, 1000, True),  # 250 words a minute: too fast
        (11, 1000, True),  # 91 words a minute: more than reading
        (1, 40, False),  # a short lesson may take a minute
        (2, 40, True),
        (24, 4900, False),  # floor(4900 / 200) = 24
        (23, 4900, True),
        (49, 4900, False),
        (50, 4900, True),
    ],
)
def test_lesson_minutes_against_a_study_pace(minutes: int, words: int, warns: bool) -> None:
    assert (hours.lesson_minutes("l1", minutes, words) is not None) is warns


@pytest.mark.parametrize(
    ("stated", "minutes", "warns"),
    [
        (4.5, 270, False),
        (4.5, 203, False),  # 25 % under
        (4.5, 202, True),
        (4.5, 337, False),  # 25 % over
        (4.5, 338, True),
        (80, 1000, True),  # the diploma's 16.7 hours of minutes
        (4.5, 30, True),  # 4,900 words: half an hour of reading
    ],
)
def test_stated_hours_against_item_minutes(stated: float, minutes: int, warns: bool) -> None:
    assert (hours.course_hours(stated, minutes) is not None) is warns
    assert (hours.programme_hours(stated, minutes) is not None) is warns


COURSE = """\
id: horas
title: Horas
language: es
summary: Resumen.
hours: {hours}
modules:
  - id: m1
    title: Módulo
    items:
      - id: lectura
        title: Lectura
        minutes: {minutes}
        body_file: lectura.md
      - id: q
        type: quiz
        title: Quiz
        minutes: 10
        questions:
          - id: q1
            type: true_false
            prompt: ¿Sí?
            answer: true
"""


def course_problems(tmp_path: Path, *, hours_: float, minutes: int, words: int) -> list[str]:
    folder = write_course(
        tmp_path,
        COURSE.format(hours=hours_, minutes=minutes),
        {"lectura.md": " ".join(["palabra"] * words)},
    )
    content, problems = load_course(folder)
    assert content is not None  # warnings never keep a course from loading
    assert all(p.severity == "warning" for p in problems)
    return [f"{p.line}:{p.column}: {p.message}" for p in problems]


def test_an_honest_course_has_no_warning(tmp_path: Path) -> None:
    assert course_problems(tmp_path, hours_=1, minutes=50, words=6000) == []


def test_lesson_minutes_too_few_for_its_words(tmp_path: Path) -> None:
    assert course_problems(tmp_path, hours_=0.5, minutes=20, words=6000) == [
        "12:18: lesson 'lectura' has 6,000 words, at least 30 min of reading at 200 words a "
        "minute, but its `minutes` is 20"
    ]


def test_lesson_minutes_too_many_for_its_words(tmp_path: Path) -> None:
    assert course_problems(tmp_path, hours_=1, minutes=50, words=600) == [
        "12:18: lesson 'lectura' has 600 words, at most 6 min of reading at 100 words a minute, "
        "but its `minutes` is 50; lower `minutes` or add the readings and activities that take "
        "that time"
    ]


def test_course_hours_far_from_its_minutes(tmp_path: Path) -> None:
    assert course_problems(tmp_path, hours_=4.5, minutes=20, words=3000) == [
        "5:8: the course states 4.5 h, but the `minutes` of its items add up to 0.5 h (30 min); "
        "make them agree within 25 %"
    ]


def test_programme_hours_far_from_its_courses_minutes(tmp_path: Path) -> None:
    write_course(
        tmp_path, COURSE.format(hours=1, minutes=50), {"lectura.md": " ".join(["x"] * 6000)}
    )
    programmes = tmp_path / "programmes"
    programmes.mkdir()
    (programmes / "diploma.yaml").write_text(
        "id: diploma\ntitle: Diploma\nhours: 80\ncourses: [horas]\n", encoding="utf-8"
    )
    (programmes / "honest.yaml").write_text(
        "id: honest\ntitle: Honest\nhours: 1.1\ncourses: [horas]\n", encoding="utf-8"
    )
    (programmes / "unknown.yaml").write_text(
        "id: unknown\ntitle: Unknown\nhours: 80\ncourses: [horas, nada]\n", encoding="utf-8"
    )
    result = load_catalogue([tmp_path])
    warnings = [p.format(tmp_path) for p in result.problems if p.severity == "warning"]
    assert warnings == [
        "programmes/diploma.yaml:3:8: warning: the programme states 80 h, but the `minutes` of "
        "its courses' items add up to 1 h (60 min); make them agree within 25 %"
    ]
