"""Validator messages in the author's language, and hints that say how to fix YAML."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ecampus.courses import yamlnodes
from ecampus.courses.loader import load_catalogue, load_course
from ecampus.i18n import Message, language_from_environment, lazy_ngettext
from tests.unit.courses.test_loader import VALID, write_course


def problems_in(tmp_path: Path, text: str, language: str) -> list[str]:
    _content, problems = load_course(write_course(tmp_path, text))
    return [f"{p.line}:{p.column}: {p.describe(language)}" for p in problems]


@pytest.mark.parametrize(
    ("old", "new", "spanish", "english"),
    [
        ("summary: Resumen.", "sumary: Resumen.",
         "4:1: clave desconocida 'sumary' (¿quiso decir 'summary'?)",
         "4:1: unknown key 'sumary' (did you mean 'summary'?)"),
        ("summary: Resumen.", "sumary: Resumen.",
         "1:1: falta la clave obligatoria 'summary'", "1:1: missing required key 'summary'"),
        ("hours: 0.02", "hours: -2", "5:8: hours: debe ser mayor que 0",
         "5:8: hours: must be greater than 0"),
        ("hours: 0.02", "hours: muchas", "5:8: hours: debe ser un número",
         "5:8: hours: must be a number"),
        ("id: ok-course", "id: Curso_1",
         "1:5: id: los id usan minúsculas sin tildes, cifras y guiones sueltos ([a-z0-9-]+)",
         "1:5: id: ids use lowercase letters, digits and single hyphens ([a-z0-9-]+)"),
        ("      - id: q\n", "      - id: l1\n",
         "14:13: id de elemento repetido 'l1' (usado antes en la línea 10)",
         "14:13: duplicate item id 'l1' (first used on line 10)"),
        ("answer: a", "answer: c",
         "22:21: la respuesta 'c' no corresponde a ninguna opción (las opciones son a, b)",
         "22:21: answer 'c' names no option (options are a, b)"),
        ("body: Hola", "body_file: falta.md", "13:20: el body_file 'falta.md' no existe",
         "13:20: body_file 'falta.md' does not exist"),
        ("type: single", "type: choice",
         "19:19: type: debe ser single, multiple, true_false, text o number",
         "19:19: type: must be one of single, multiple, true_false, text, number"),
        ("body: Hola", "body: 'Vea [el quiz](qq)'",
         "13:15: advertencia: la lección 'l1' enlaza a 'qq', que no es ningún elemento de este "
         "curso (¿quiso decir 'q'?)",
         "13:15: warning: lesson 'l1' links to 'qq', which is no item of this course "
         "(did you mean 'q'?)"),
    ],
)  # fmt: skip
def test_messages_in_spanish_and_english(
    tmp_path: Path, old: str, new: str, spanish: str, english: str
) -> None:
    text = VALID.replace(old, new, 1)
    _content, problems = load_course(write_course(tmp_path, text))
    shown = {
        language: [
            f"{p.line}:{p.column}: "
            + (
                ""
                if p.severity == "error"
                else ("advertencia: " if language == "es" else "warning: ")
            )
            + p.describe(language)
            for p in problems
        ]
        for language in ("es", "en")
    }
    assert spanish in shown["es"]
    assert english in shown["en"]
    # Problem.message stays English, and format() prints file:line:col before the message.
    assert english.split(": ", 1)[1].removeprefix("warning: ") in [p.message for p in problems]
    assert any(p.format(tmp_path, "es").startswith("course/course.yaml:") for p in problems)


@pytest.mark.parametrize(
    ("yaml", "position", "spanish_hint", "english_hint"),
    [
        ("id: x\ntitle: Código de Migración: generalidades\n", (2, 27),
         'ponga el título entre comillas: title: "Código de Migración: generalidades"',
         'put the title in quotes: title: "Código de Migración: generalidades"'),
        ("id: x\nsummary: Uno: dos\n", (2, 13),
         'ponga el resumen entre comillas: summary: "Uno: dos"',
         'put the summary in quotes: summary: "Uno: dos"'),
        ('id: x\nmodules:\n  - id: m\n    title: Parte 1: "la ley"\n', (4, 19),
         'ponga el título entre comillas: title: "Parte 1: \\"la ley\\""',
         'put the title in quotes: title: "Parte 1: \\"la ley\\""'),
        ("id: x\ntopics: Uno: dos\n", (2, 12),
         'ponga el valor de `topics` entre comillas: topics: "Uno: dos"',
         'put the value of `topics` in quotes: topics: "Uno: dos"'),
        ("id: x\nmodules:\n\t- id: m\n", (3, 1),
         "YAML sangra con espacios, nunca con tabuladores: cambie los tabuladores de esta línea "
         "por espacios",
         "YAML indents with spaces, never tabs: replace the tabs on this line"),
        ("id: x\ntitle: X\n  summary: y\n", (3, 10),
         "esta línea tiene más sangría que la clave de arriba; las claves de un mismo conjunto "
         "empiezan en la misma columna",
         "this line is indented further than the key above it; keys of one mapping start in the "
         "same column"),
        ("id: x\nmodules:\n  - id: m\n    title: T\n   items: []\n", (5, 4),
         "los elementos de una lista empiezan con `- ` en la misma columna que el primero "
         "(columna 3, línea 3); revise la sangría de esta línea",
         "the entries of a list start with `- ` in the same column as the first one (column 3, "
         "line 3); check this line's indentation"),
        ("id: x\ntitle: `code`\n", (2, 8),
         'en YAML un valor no puede empezar por `; ponga el título entre comillas: title: "`code`"',
         'a value cannot start with ` in YAML; put the title in quotes: title: "`code`"'),
        ('id: x\ntitle: "abc\nsummary: y\n', (4, 1),
         "las comillas abiertas en la línea 2, columna 8 nunca se cierran",
         "the quote opened at line 2, column 8 is never closed"),
        ("id: x\ntitle: [a, b\nsummary: y\n", (3, 8),
         "cierre con ] el [ abierto en la línea 2, columna 8, y ponga entre comillas cada "
         "elemento que contenga una coma, dos puntos o un corchete",
         "close the [ opened at line 2, column 8 with ], and put in quotes any entry that "
         "contains a comma, a colon or a bracket"),
        ("id: x\nsummary: una línea\nque sigue\n", (3, 1),
         "cada línea de un conjunto de claves es `clave: valor`; si esta línea continúa el texto "
         "de arriba, dele más sangría que a su clave, o escriba el texto como bloque con `|`",
         "each line of a mapping is `key: value`; if this line continues the text above, indent "
         "it further than its key, or write the text as a block with `|`"),
        ('title: "Hola" mundo\n', (1, 15),
         "un valor entre comillas termina en la comilla de cierre: ponga el valor entero dentro",
         "a value in quotes ends at its closing quote: put the whole value inside"),
        ("id: x\ntitle: !importante\n", (2, 8),
         'en YAML un valor no puede empezar por !; ponga el título entre comillas: '
         'title: "!importante"',
         'a value cannot start with ! in YAML; put the title in quotes: title: "!importante"'),
    ],
)  # fmt: skip
def test_yaml_syntax_errors_have_a_hint(
    yaml: str, position: tuple[int, int], spanish_hint: str, english_hint: str
) -> None:
    with pytest.raises(yamlnodes.YamlSyntaxError) as caught:
        yamlnodes.load(yaml)
    assert caught.value.position == position
    assert caught.value.hint is not None
    assert caught.value.hint.render("es") == spanish_hint
    assert caught.value.hint.render("en") == english_hint


def test_a_syntax_error_reads_whole_in_spanish(tmp_path: Path) -> None:
    folder = write_course(tmp_path, "id: x\ntitle: [sin cerrar\nsummary: y\n")
    _content, problems = load_course(folder)
    (problem,) = problems
    assert problem.describe("es") == (
        "error de sintaxis YAML: falta una ',' o un ']' (al leer una lista entre corchetes que "
        "empieza en la línea 2, columna 8). Sugerencia: cierre con ] el [ abierto en la línea 2, "
        "columna 8, y ponga entre comillas cada elemento que contenga una coma, dos puntos o un "
        "corchete"
    )
    assert problem.message == (
        "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence that "
        "started at line 2, column 8)"
    )


def test_numbers_are_written_the_readers_way(tmp_path: Path) -> None:
    text = VALID.replace("hours: 0.02", "hours: 4.5")
    (problem,) = [p for p in load_course(write_course(tmp_path, text))[1] if p.line == 5]
    assert problem.describe("es") == (
        "el curso declara 4,5 h, pero los `minutes` de sus elementos suman 0 h (1 min); "
        "haga que coincidan con un margen del 25 %"
    )
    assert problem.describe("en") == (
        "the course states 4.5 h, but the `minutes` of its items add up to 0 h (1 min); "
        "make them agree within 25 %"
    )


def test_programme_problems_in_spanish(tmp_path: Path) -> None:
    write_course(tmp_path, VALID)
    (tmp_path / "programmes").mkdir()
    (tmp_path / "programmes" / "p.yaml").write_text(
        "id: p\ntitle: P\nhours: 80\ncourses: [ok-course, nada]\n", encoding="utf-8"
    )
    result = load_catalogue([tmp_path])
    assert [p.format(tmp_path, "es") for p in result.problems] == [
        "programmes/p.yaml:4:22: el programa menciona un curso desconocido: 'nada'"
    ]


def test_plural_messages_pick_the_languages_form() -> None:
    message = lazy_ngettext("checked %(num)s course", "checked %(num)s courses", 1)
    assert message.render("es") == "1 curso revisado"
    many = lazy_ngettext("checked %(num)s course", "checked %(num)s courses", 1_000_000)
    assert many.render("es") == "1.000.000 de cursos revisados"
    assert many.render("en") == "checked 1,000,000 courses"
    assert str(Message("an unknown text %(x)s", {"x": 2.5})) == "an unknown text 2.5"


@pytest.mark.parametrize(
    ("environment", "default", "expected"),
    [
        ({"LC_ALL": "es_GT.UTF-8", "LANG": "en_US.UTF-8"}, "en", "es"),
        ({"LC_MESSAGES": "en_GB.UTF-8", "LANG": "es_ES.UTF-8"}, "es", "en"),
        ({"LANG": "en"}, "es", "en"),
        ({"LANG": "es-MX"}, "en", "es"),
        ({"LANG": "C.UTF-8"}, "es", "es"),
        ({"LANG": "POSIX"}, "en", "en"),
        ({"LC_ALL": "fr_FR.UTF-8", "LANG": "en_US.UTF-8"}, "es", "es"),
        ({}, "en", "en"),
        ({}, "de", "es"),
    ],
)  # fmt: skip
def test_language_from_the_environment(
    environment: dict[str, str], default: str, expected: str
) -> None:
    assert language_from_environment(environment, default=default) == expected


def test_every_validator_message_is_in_both_catalogues() -> None:
    from babel.messages.extract import extract_from_dir

    from tests.messages import catalogue

    root = Path(__file__).resolve().parents[3] / "src" / "ecampus"
    keywords = {"N_": None, "lazy_ngettext": (1, 2)}
    found = {
        message if isinstance(message, str) else message[0]
        for _f, _l, message, _c, _x in extract_from_dir(
            str(root), [("**.py", "python")], keywords=keywords
        )
    }
    assert len(found) > 100
    for language in ("es", "en"):
        known = catalogue(language)
        missing = sorted(m for m in found if known.get(m) is None)
        assert missing == [], f"{language}: {missing[:5]}"
    spanish = catalogue("es")
    assert sorted(m for m in found if not spanish.get(m).string) == []
    untranslated = sorted(
        m for m in found if spanish.get(m).string == m and any(w in m for w in ("the ", "must "))
    )
    assert untranslated == []


def test_a_broken_course_yaml_in_a_folder_of_courses(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "course.yaml").write_text(textwrap.dedent("id: c\ntitle: A: B\n"), encoding="utf-8")
    result = load_catalogue([tmp_path])
    (problem,) = result.problems
    assert problem.hint is not None
    assert problem.format(tmp_path, "es") == (
        "c/course.yaml:2:9: error de sintaxis YAML: aquí no se admite un valor con «clave:». "
        'Sugerencia: ponga el título entre comillas: title: "A: B"'
    )


def test_well_formed_yaml_that_reads_otherwise_gets_a_hint(tmp_path: Path) -> None:
    text = (
        VALID.replace("title: Curso", "title: #5 tema", 1)
        .replace("summary: Resumen.", "summary: 2024")
        .replace("options: [Sí, No]", "options:\n              - Sí: claro\n              - No")
    )
    _content, problems = load_course(write_course(tmp_path, text))
    shown = {(p.line, p.message): p.hint for p in problems}
    title = shown[(2, "title: must be text")]
    assert title is not None
    assert title.render("es") == (
        "en YAML, # tras un espacio inicia un comentario, así que el título se queda sin valor; "
        'ponga el título entre comillas: title: "#5 tema"'
    )
    summary = shown[(4, "summary: must be text")]
    assert summary is not None
    assert summary.render("en") == (
        'YAML reads 2024 as a number or true/false; put the summary in quotes: summary: "2024"'
    )
    option = shown[(22, "unknown key 'Sí'")]
    assert option is not None
    assert (
        option.render("es") == 'un elemento que contiene «: » debe ir entre comillas: - "Sí: claro"'
    )
    assert (22, "missing required key 'text'") in shown  # not "missing required key '0'"
