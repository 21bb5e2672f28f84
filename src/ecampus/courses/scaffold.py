"""`ecampus courses new`: a small, valid course to start writing from."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ecampus.courses.schema import course_json_schema

COURSE_YAML = """\
# yaml-language-server: $schema={schema}
# The schema line above lets editors with a YAML language server (VS Code's YAML extension,
# for example) complete and check this file. Check it any time with: ecampus validate {folder}
id: {id}                # never change an id once learners have enrolled
title: {title}
language: {language}
summary: {summary}
hours: 0.05              # study time in hours: the items' minutes add up to it (within 25 %)
topics: []
published: false        # true when it is ready for learners; authors can preview it now
pass_mark: 70
modules:
  - id: {first_module}
    title: {module_title}
    items:
      - id: {first_lesson}
        title: {lesson_title}
        minutes: 1              # 100 to 200 words a minute; update it as the lesson grows
        body_file: lessons/{first_lesson}.md
      - id: {first_quiz}
        type: quiz
        title: {quiz_title}
        minutes: 2
        max_attempts: 3
        questions:
          - id: q1
            type: single
            prompt: {single_prompt}
            options: [{option_a}, {option_b}, {option_c}]
            answer: b
            explanation: {explanation}
          - id: q2
            type: true_false
            prompt: {true_false_prompt}
            answer: true
"""

TEXTS = {
    "es": {
        "summary": "Describa el curso en un párrafo.",
        "module_title": "Primer módulo",
        "lesson_title": "Primera lección",
        "quiz_title": "Evaluación del módulo",
        "single_prompt": "¿Qué opción es la correcta?",
        "option_a": "La primera",
        "option_b": "La segunda",
        "option_c": "La tercera",
        "explanation": "Explique aquí por qué la segunda es la correcta.",
        "true_false_prompt": "Esta afirmación es verdadera.",
        "lesson": "# Primera lección\n\nEscriba aquí la lección en Markdown: **negritas**, listas,"
        " tablas e imágenes guardadas en la carpeta del curso.\n",
        "first_module": "modulo-1",
        "first_lesson": "introduccion",
        "first_quiz": "evaluacion-1",
    },
    "en": {
        "summary": "Describe the course in one paragraph.",
        "module_title": "First module",
        "lesson_title": "First lesson",
        "quiz_title": "Module quiz",
        "single_prompt": "Which option is correct?",
        "option_a": "The first",
        "option_b": "The second",
        "option_c": "The third",
        "explanation": "Explain here why the second one is correct.",
        "true_false_prompt": "This statement is true.",
        "lesson": "# First lesson\n\nWrite the lesson here in Markdown: **bold**, lists, tables"
        " and images kept in the course folder.\n",
        "first_module": "module-1",
        "first_lesson": "introduction",
        "first_quiz": "quiz-1",
    },
}


SCHEMA_FILE = "course.schema.json"


class ScaffoldError(ValueError):
    pass


def write_schema(root: Path) -> Path:
    """Keep `<courses>/course.schema.json` current, for the modeline of every course.yaml."""
    target = root / SCHEMA_FILE
    text = json.dumps(course_json_schema(), ensure_ascii=False, indent=2) + "\n"
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        root.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return target


def scaffold(root: Path, *, course_id: str, title: str | None, language: str) -> Path:
    """Create `<root>/<course_id>/` with course.yaml and one lesson file."""
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", course_id):
        raise ScaffoldError(
            f"'{course_id}' is not a valid id: use lowercase letters, digits and single hyphens"
        )
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", language):
        raise ScaffoldError(f"'{language}' is not a BCP 47 language tag such as es, en or pt-BR")
    folder = root / course_id
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists")
    texts = TEXTS.get(language.split("-")[0], TEXTS["en"])
    (folder / "lessons").mkdir(parents=True)
    write_schema(root)
    (folder / "course.yaml").write_text(
        COURSE_YAML.format(
            schema=f"../{SCHEMA_FILE}",
            folder=f"{root.name}/{course_id}",
            id=course_id,
            # JSON strings are YAML strings: any title, colons and quotes included, stays valid.
            title=json.dumps(title or course_id.replace("-", " ").capitalize(), ensure_ascii=False),
            language=language,
            **{k: v for k, v in texts.items() if k != "lesson"},
        ),
        encoding="utf-8",
    )
    (folder / "lessons" / f"{texts['first_lesson']}.md").write_text(
        texts["lesson"], encoding="utf-8"
    )
    return folder
