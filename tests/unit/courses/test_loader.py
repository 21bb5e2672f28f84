"""The validator: every error at once, each with its file, line and column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ecampus.courses.loader import load_catalogue, load_course

VALID = """\
id: ok-course
title: Curso
language: es
summary: Resumen.
hours: 0.02
modules:
  - id: m1
    title: Módulo
    items:
      - id: l1
        title: Lección
        minutes: 1
        body: Hola
      - id: q
        type: quiz
        title: Quiz
        questions:
          - id: q1
            type: single
            prompt: ¿Sí?
            options: [Sí, No]
            answer: a
"""


def write_course(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Path:
    folder = tmp_path / "course"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    for name, content in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def messages(folder: Path) -> list[str]:
    _content, problems = load_course(folder)
    return [f"{p.line}:{p.column}: {p.message}" for p in problems if p.severity == "error"]


def test_valid_course_loads_and_renders(tmp_path: Path) -> None:
    content, problems = load_course(write_course(tmp_path, VALID))
    assert problems == []
    assert content is not None
    assert content.order == ("l1", "q")
    assert content.items["l1"].html == "<p>Hola</p>\n"
    assert content.quizzes["q"].pass_mark == 70
    assert len(content.version) == 16


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("summary: Resumen.", "sumary: Resumen.", ["1:1: missing required key 'summary'",
                                                   "4:1: unknown key 'sumary' (did you mean 'summary'?)"]),
        ("id: ok-course", "id: Bad_Id", ["1:5: id: ids use lowercase letters, digits and single hyphens ([a-z0-9-]+)"]),
        ("      - id: q\n", "      - id: l1\n", ["14:13: duplicate item id 'l1' (first used on line 10)"]),
        ("answer: a", "answer: c", ["22:21: answer 'c' names no option (options are a, b)"]),
        ("type: single", "type: choice", ["19:19: type: must be one of single, multiple, true_false, text, number"]),
        ("hours: 0.02", "hours: -2", ["5:8: hours: must be greater than 0"]),
        ("body: Hola", "body_file: missing.md", ["13:20: body_file 'missing.md' does not exist"]),
        ("body: Hola", "body_file: ../../etc/passwd", ["13:20: body_file '../../etc/passwd' is outside the course folder"]),
        ("body: Hola", "body: Hola\n        body_file: x.md", ["14:20: body_file 'x.md' does not exist",
                                                                "10:9: a lesson needs exactly one of `body` or `body_file`"]),
        ("        type: quiz\n", "        type: quizz\n", ["15:15: type: must be `lesson` (or omitted) or `quiz`"]),
        ("title: Curso", "title: Curso\ntitle: Otro", ["3:1: duplicate key 'title'"]),
        ("            answer: a", "            answer: a\n            colour: red", ["23:13: unknown key 'colour'"]),
    ],
)  # fmt: skip
def test_errors_carry_line_and_column(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    assert old in VALID
    found = messages(write_course(tmp_path, VALID.replace(old, new, 1)))
    assert sorted(found) == sorted(expected)


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    broken = (
        VALID.replace("summary: Resumen.", "sumary: x")
        .replace("answer: a", "answer: z")
        .replace("      - id: q\n", "      - id: l1\n")
    )
    assert len(messages(write_course(tmp_path, broken))) == 4


def test_yaml_syntax_error_has_a_position(tmp_path: Path) -> None:
    assert messages(write_course(tmp_path, "id: x\ntitle: [unclosed\nsummary: y\n")) == [
        "3:8: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence"
        " that started at line 2, column 8)"
    ]


def test_not_a_mapping(tmp_path: Path) -> None:
    assert messages(write_course(tmp_path, "- just\n- a list\n")) == [
        "1:1: expected a mapping of keys (id, title, ...)"
    ]


def test_multiple_answer_and_option_ids(tmp_path: Path) -> None:
    text = VALID.replace(
        "            options: [Sí, No]\n            answer: a",
        "            options:\n              - {id: x, text: Uno}\n              - {id: x, text: Dos}\n"
        "            answer: [x, y, x]",
    ).replace("type: single", "type: multiple")
    found = messages(write_course(tmp_path, text))
    assert "23:17: duplicate option id 'x' (first used on line 22)" in found
    assert "24:25: answer 'y' names no option (options are x, x)" in found
    assert "24:21: the same option is listed twice in answer" in found


def test_lesson_without_minutes_is_a_warning(tmp_path: Path) -> None:
    content, problems = load_course(
        write_course(tmp_path, VALID.replace("        minutes: 1\n", ""))
    )
    assert content is not None
    assert [(p.severity, p.line, p.message) for p in problems] == [
        ("warning", 5, "the course states 0.02 h, but the `minutes` of its items add up to 0 h "
         "(0 min); make them agree within 25 %"),
        ("warning", 10, "lesson 'l1' has no `minutes`"),
    ]  # fmt: skip


def test_body_file_is_rendered_and_sanitised(tmp_path: Path) -> None:
    folder = write_course(
        tmp_path,
        VALID.replace("body: Hola", "body_file: lessons/uno.md"),
        {"lessons/uno.md": "# Título\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n"},
    )
    content, problems = load_course(folder)
    assert problems == []
    assert content is not None
    html = content.items["l1"].html
    assert "<h1>Título</h1>" in html
    assert "<script>" not in html
    assert "javascript:" not in html.replace("[x](javascript:alert(1))", "")


def test_duplicate_course_ids_and_programmes(tmp_path: Path) -> None:
    write_course(tmp_path / "a", VALID)
    write_course(tmp_path / "b", VALID)
    (tmp_path / "a" / "course").rename(tmp_path / "one")
    (tmp_path / "b" / "course").rename(tmp_path / "two")
    programmes = tmp_path / "programmes"
    programmes.mkdir()
    (programmes / "p.yaml").write_text(
        "id: p\ntitle: P\nhours: 80\ncourses: [ok-course, nope]\n", encoding="utf-8"
    )
    result = load_catalogue([tmp_path])
    found = [p.format(tmp_path) for p in result.errors]
    assert (
        "two/course.yaml:1:1: course id 'ok-course' is already used by " + str(tmp_path / "one")
        in found
    )
    assert "programmes/p.yaml:4:22: programme names unknown course 'nope'" in found
    assert result.programmes["p"].hours == 80


def test_bundled_courses_are_valid() -> None:
    root = Path(__file__).resolve().parents[3] / "courses"
    result = load_catalogue([root])
    assert [p.format(root) for p in result.errors] == []
    assert "codigo-migracion" in result.courses
    course = result.courses["codigo-migracion"]
    assert course.hours == 2.2
    types = {q.type for quiz in course.quizzes.values() for q in quiz.questions}
    assert types == {"single", "multiple", "true_false", "text", "number"}
    assert any(len(p.courses) > 1 for p in result.programmes.values())


def test_media_references_are_checked(tmp_path: Path) -> None:
    text = VALID.replace(
        "body: Hola", "body: 'Ver ![mapa](img/mapa.png) y [doc](../../secret.pdf)'"
    )
    _content, problems = load_course(write_course(tmp_path, text))
    found = [(p.severity, p.line, p.column, p.message) for p in problems]
    assert (
        "warning",
        13,
        15,
        "lesson 'l1' refers to 'img/mapa.png', which does not exist",
    ) in found
    assert (
        "error",
        13,
        15,
        "lesson 'l1' refers to '../../secret.pdf', outside the course folder",
    ) in found


def test_links_to_items(tmp_path: Path) -> None:
    text = VALID.replace("body: Hola", "body: 'Vea [el quiz](q) y [otra](qq)'")
    content, problems = load_course(write_course(tmp_path, text))
    assert [(p.severity, p.line, p.message) for p in problems] == [
        (
            "warning",
            13,
            "lesson 'l1' links to 'qq', which is no item of this course (did you mean 'q'?)",
        )
    ]
    assert content is not None
    assert 'href="/courses/ok-course/items/q"' in content.items["l1"].html
    assert 'href="qq"' in content.items["l1"].html


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("        type: quiz\n", "        type: quiz\n        pass_mark: 0\n",
         ("warning", 16, "a pass mark of 0 passes any submission, even an empty one")),
        ("            type: single\n            prompt: ¿Sí?\n            options: [Sí, No]\n            answer: a",
         "            type: text\n            prompt: ¿Sí?\n            answer: ['  ']",
         ("warning", 14, "quiz 'q' cannot be passed: its pass mark is 70 % but a learner can score "
                         "at most 0 % (some questions have no answer a learner could give)")),
    ],
)  # fmt: skip
def test_pass_mark_warnings(
    tmp_path: Path, old: str, new: str, expected: tuple[str, int, str]
) -> None:
    assert old in VALID
    _content, problems = load_course(write_course(tmp_path, VALID.replace(old, new)))
    assert expected in [(p.severity, p.line, p.message) for p in problems]
