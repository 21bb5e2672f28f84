"""The command line, run as operators and authors run it: a subprocess from another folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ecampus(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecampus.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_validate_bundled_courses_from_another_folder(tmp_path: Path) -> None:
    result = ecampus(
        "validate", "--lang", "en", env={"ECAMPUS_COURSES_DIR": str(ROOT / "courses")}, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "errors: 0," in result.stderr


def test_validate_reports_file_line_col_and_exits_1(tmp_path: Path) -> None:
    course = tmp_path / "broken"
    course.mkdir()
    (course / "course.yaml").write_text(
        "id: broken\ntitle: X\nlanguage: es\nsumary: y\nhours: 1\nmodules: []\n"
    )
    result = ecampus("validate", "--lang", "en", "broken", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "broken/course.yaml:1:1: missing required key 'summary'" in lines
    assert "broken/course.yaml:4:1: unknown key 'sumary' (did you mean 'summary'?)" in lines
    assert "broken/course.yaml:6:10: modules: must have at least 1 entry" in lines
    as_json = json.loads(
        ecampus(
            "validate", "--lang=en", "--format", "json", "broken/course.yaml", cwd=tmp_path
        ).stdout
    )
    assert {"file": "broken/course.yaml", "line": 4, "column": 1, "severity": "error",
            "message": "unknown key 'sumary' (did you mean 'summary'?)", "hint": None} in as_json  # fmt: skip
    missing = ecampus("validate", "nowhere", cwd=tmp_path, env={"LC_ALL": "en_US.UTF-8"})
    assert missing.returncode == 1
    assert "nowhere:1:1: no such file or folder" in missing.stdout.splitlines()


def test_validate_speaks_the_authors_language(tmp_path: Path) -> None:
    course = tmp_path / "roto"
    course.mkdir()
    (course / "course.yaml").write_text(
        "id: roto\ntitle: Código de Migración: generalidades\nlanguage: es\n", encoding="utf-8"
    )
    spanish = ecampus("validate", "--lang", "es", "roto", cwd=tmp_path)
    assert spanish.returncode == 1
    assert spanish.stdout.splitlines() == [
        "roto/course.yaml:2:27: error de sintaxis YAML: aquí no se admite un valor con «clave:». "
        'Sugerencia: ponga el título entre comillas: title: "Código de Migración: generalidades"'
    ]
    assert spanish.stderr.strip() == "1 curso revisado: errores: 1, advertencias: 0"
    english = ecampus("validate", "--lang", "en", "roto", cwd=tmp_path)
    assert english.stdout.splitlines() == [
        "roto/course.yaml:2:27: YAML syntax error: mapping values are not allowed in this "
        'context. Hint: put the title in quotes: title: "Código de Migración: generalidades"'
    ]
    assert english.stderr.strip() == "checked 1 course: errors: 1, warnings: 0"
    as_json = json.loads(
        ecampus("validate", "--lang", "es", "--format", "json", "roto", cwd=tmp_path).stdout
    )
    assert (
        as_json[0]["message"] == "error de sintaxis YAML: aquí no se admite un valor con «clave:»"
    )
    assert as_json[0]["hint"] == (
        'ponga el título entre comillas: title: "Código de Migración: generalidades"'
    )


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"LC_ALL": "en_US.UTF-8", "LANG": "es_GT.UTF-8"}, "YAML syntax error"),
        ({"LC_ALL": "", "LC_MESSAGES": "es_ES.UTF-8", "LANG": "en_GB.UTF-8"}, "error de sintaxis YAML"),
        ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_GB.UTF-8"}, "YAML syntax error"),
        ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"}, "error de sintaxis YAML"),
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8", "ECAMPUS_DEFAULT_LANGUAGE": "en"}, "YAML syntax error"),
        ({"LC_ALL": "fr_FR.UTF-8"}, "error de sintaxis YAML"),
    ],
)  # fmt: skip
def test_validate_language_comes_from_the_locale(
    tmp_path: Path, environment: dict[str, str], expected: str
) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "course.yaml").write_text("id: c\ntitle: A: B\n", encoding="utf-8")
    environment = {"ECAMPUS_DEFAULT_LANGUAGE": "", **environment}
    result = ecampus("validate", "c", cwd=tmp_path, env=environment)
    assert expected in result.stdout


def test_schema_is_json_schema(tmp_path: Path) -> None:
    result = ecampus("schema", cwd=tmp_path)
    schema = json.loads(result.stdout)
    assert schema["title"] == "ecampus course (v1)"
    assert set(schema["required"]) >= {"id", "title", "language", "summary", "hours", "modules"}


def test_bundled_courses_match_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from ecampus.courses.schema import course_json_schema
    from ecampus.courses.yamlnodes import load

    validator = jsonschema.Draft202012Validator(course_json_schema())
    for path in sorted((ROOT / "courses").glob("*/course.yaml")):
        errors = list(validator.iter_errors(load(path.read_text(encoding="utf-8")).data))
        assert errors == [], f"{path}: {errors[0].message if errors else ''}"


def test_db_upgrade_users_create_and_demo(tmp_path: Path) -> None:
    env = {"ECAMPUS_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    assert ecampus("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    created = ecampus("users", "create", "boss@example.org", "--role", "admin", "--full-name", "Jefa",
                      "--password-stdin", cwd=tmp_path, env=env, stdin="a long password\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    again = ecampus("users", "create", "boss@example.org", "--role", "admin", "--full-name", "Jefa",
                    "--password-stdin", cwd=tmp_path, env=env, stdin="a long password\n")  # fmt: skip
    assert again.returncode == 1
    assert "already exists" in again.stderr
    short = ecampus("users", "create", "x@example.org", "--full-name", "Equis", "--password-stdin",
                    cwd=tmp_path, env=env, stdin="short\n")  # fmt: skip
    assert short.returncode == 2
    assert "password" in short.stderr
    assert (
        ecampus(
            "users", "set-role", "boss@example.org", "coordinator", cwd=tmp_path, env=env
        ).returncode
        == 0
    )
    listing = ecampus("users", "list", cwd=tmp_path, env=env).stdout
    assert "boss@example.org\tcoordinator\tJefa" in listing
    demo = ecampus("demo", cwd=tmp_path, env=env)
    assert "learner@example.org" in demo.stdout
    assert ecampus("demo", cwd=tmp_path, env=env).returncode == 0  # idempotent


def test_serve_refuses_a_default_secret_outside_development(tmp_path: Path) -> None:
    result = ecampus(
        "serve", cwd=tmp_path, env={"ECAMPUS_ENV": "production", "ECAMPUS_SECRET_KEY": ""}
    )
    assert result.returncode == 2
    assert "ECAMPUS_SECRET_KEY" in result.stderr


def test_schema_explains_every_field() -> None:
    from ecampus.courses.schema import course_json_schema, programme_json_schema

    def properties(node: object, path: str = "") -> list[tuple[str, dict[str, object]]]:
        found: list[tuple[str, dict[str, object]]] = []
        if isinstance(node, dict):
            for name, value in node.get("properties", {}).items():
                found.append((f"{path}.{name}", value))
            for key, value in node.items():
                found += properties(value, f"{path}/{key}")
        elif isinstance(node, list):
            for value in node:
                found += properties(value, path)
        return found

    for schema in (course_json_schema(), programme_json_schema()):
        fields = properties(schema)
        assert len(fields) > 5
        undocumented = [p for p, v in fields if not v.get("description") or not v.get("title")]
        assert undocumented == []


def test_committed_schema_file_is_current() -> None:
    from ecampus.courses.schema import course_json_schema

    committed = json.loads((ROOT / "courses" / "course.schema.json").read_text(encoding="utf-8"))
    assert committed == course_json_schema(), "run `make schema`"


def test_courses_new_scaffolds_a_valid_course(tmp_path: Path) -> None:
    created = ecampus(
        "courses", "new", "mi-curso", "--dir", "cursos", "--title", "Mi curso", cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    yaml = (tmp_path / "cursos" / "mi-curso" / "course.yaml").read_text(encoding="utf-8")
    assert yaml.startswith("# yaml-language-server: $schema=../course.schema.json")
    assert (tmp_path / "cursos" / "course.schema.json").is_file()
    checked = ecampus("validate", "--lang", "es", "cursos", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "errores: 0, advertencias: 0" in checked.stderr
    again = ecampus("courses", "new", "mi-curso", "--dir", "cursos", cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    bad = ecampus("courses", "new", "Mi_Curso", "--dir", "cursos", cwd=tmp_path)
    assert bad.returncode == 1
    english = ecampus(
        "courses", "new", "my-course", "--dir", "cursos", "--language", "en", cwd=tmp_path
    )
    assert english.returncode == 0
    assert "Module quiz" in (tmp_path / "cursos" / "my-course" / "course.yaml").read_text()


def test_validate_checks_translations_and_scaffold_quotes_titles(tmp_path: Path) -> None:
    created = ecampus(
        "courses", "new", "uno", "--dir", "c", "--title", 'Nota: prueba "1"', cwd=tmp_path
    )
    assert created.returncode == 0
    clean = ecampus("validate", "--lang", "en", "c", cwd=tmp_path)
    assert clean.returncode == 0
    assert clean.stdout == ""  # a new course starts with honest hours: no warnings
    yaml = tmp_path / "c" / "uno" / "course.yaml"
    yaml.write_text(yaml.read_text().replace("topics: []", "topics: []\ntranslations: [dos]"))
    result = ecampus("validate", "--lang", "en", "c", cwd=tmp_path)
    assert result.returncode == 1
    assert "c/uno/course.yaml:10:16: translation names unknown course 'dos'" in result.stdout
    assert (
        ecampus(
            "courses", "new", "tres", "--dir", "c", "--language", "Spanish", cwd=tmp_path
        ).returncode
        == 1
    )


def test_settings_refuse_bad_numbers() -> None:
    from ecampus.settings import Settings, SettingsError

    for name, value in (("ECAMPUS_WATCH_SECONDS", "0"), ("ECAMPUS_WATCH_SECONDS", "soon"),
                        ("ECAMPUS_TOKEN_MINUTES", "-5"), ("ECAMPUS_ENV", "staging")):  # fmt: skip
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})
    assert Settings.from_env({"ECAMPUS_WATCH_SECONDS": "0.5"}).watch_seconds == 0.5
