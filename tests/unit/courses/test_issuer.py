"""courses/issuer.yaml: checked like a course (every error at its file, line and column),
overridable per course and programme, described in the JSON Schema."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from ecampus.courses.issuer import localized
from ecampus.courses.loader import current_issuer, load_catalogue
from ecampus.courses.schema import issuer_json_schema
from tests.unit.courses.test_loader import VALID
from tests.unit.test_cli import ecampus

ROOT = Path(__file__).resolve().parents[3]
BUNDLED = ROOT / "courses"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

ISSUER = """\
name:
  es: Instituto de Prueba
  en: Test Institute
url: https://example.org
logo: logo.png
signatories:
  - name: Ana Firma
    title:
      es: Directora
      en: Director
    signature: firma.png
  - name: Luis Sinfirma
    title: Coordinador
"""


def catalogue(tmp_path: Path, issuer: str, course: str = VALID) -> Path:
    """A courses folder with one course, issuer.yaml and two small images."""
    root = tmp_path / "courses"
    (root / "course").mkdir(parents=True)
    (root / "course" / "course.yaml").write_text(textwrap.dedent(course), encoding="utf-8")
    (root / "issuer.yaml").write_text(textwrap.dedent(issuer), encoding="utf-8")
    (root / "logo.png").write_bytes(PNG)
    (root / "firma.png").write_bytes(PNG)
    return root


def errors(root: Path) -> list[str]:
    result = load_catalogue([root], render=False)
    return [p.format(root) for p in result.problems if p.severity == "error"]


def test_the_bundled_issuer_is_a_sample_institution_with_its_images() -> None:
    result = load_catalogue([BUNDLED], render=False)

    assert [p.format(BUNDLED) for p in result.problems if p.severity == "error"] == []
    issuer = result.issuer
    assert issuer is not None
    assert "(ejemplo)" in issuer.name["es"]
    assert "(sample)" in issuer.name["en"]
    assert issuer.logo is not None
    assert issuer.logo.is_file()
    assert len(issuer.signatories) == 2
    assert all(s.signature is not None and s.signature.is_file() for s in issuer.signatories)
    # Every course and programme carries it, paths relative to the courses folder.
    frozen = result.courses["codigo-migracion"].issuer
    assert frozen is not None
    assert frozen.frozen()["logo"] == "issuer/logo.svg"
    assert result.programmes["diplomado-migracion-laboral"].issuer == issuer


def test_a_valid_issuer_loads(tmp_path: Path) -> None:
    root = catalogue(tmp_path, ISSUER)

    result = load_catalogue([root], render=False)

    assert result.problems == []
    issuer = result.issuer
    assert issuer is not None
    assert issuer.frozen() == {
        "name": {"es": "Instituto de Prueba", "en": "Test Institute"},
        "url": "https://example.org",
        "logo": "logo.png",
        "signatories": [
            {"name": "Ana Firma", "title": {"es": "Directora", "en": "Director"}, "signature": "firma.png"},
            {"name": "Luis Sinfirma", "title": "Coordinador", "signature": None},
        ],
        "orientation": "landscape",
    }  # fmt: skip
    assert result.courses["ok-course"].issuer == issuer


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # An unknown key is an error at its own line, with a suggestion.
        ("    title: Coordinador", "    titel: Coordinador",
         "issuer.yaml:13:5: unknown key 'titel' (did you mean 'title'?)"),
        ("url: https://example.org", "url: https://example.org\nwebsite: x",
         "issuer.yaml:5:1: unknown key 'website'"),
        ("logo: logo.png", "logo: missing.png", "issuer.yaml:5:7: image 'missing.png' does not exist"),
        ("    signature: firma.png", "    signature: ../outside.png",
         "issuer.yaml:11:16: image '../outside.png' is outside this file's folder"),
        ("logo: logo.png", "logo: issuer.yaml", "issuer.yaml:5:7: image 'issuer.yaml' is not a PNG, JPEG or SVG file"),
        ("url: https://example.org", "url: example.org",
         "issuer.yaml:4:6: url: must be a web address starting with https:// or http://"),
        ("  es: Instituto de Prueba\n  en: Test Institute\n", "  Spanish: Instituto\n",
         "issuer.yaml:2:12: Spanish: use a BCP 47 language tag such as es, en or pt-BR"),
        ("    title: Coordinador", "    title: Coordinador\n    orientation: portrait",
         "issuer.yaml:14:5: unknown key 'orientation'"),
    ],
)  # fmt: skip
def test_mistakes_are_errors_at_their_line_and_column(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in ISSUER
    root = catalogue(tmp_path, ISSUER.replace(old, new))

    assert expected in errors(root)


def test_an_issuer_without_a_name_is_an_error(tmp_path: Path) -> None:
    root = catalogue(tmp_path, "url: https://example.org\n")

    assert errors(root) == ["issuer.yaml:1:1: missing required key 'name'"]


def test_an_unreadable_image_is_an_error(tmp_path: Path) -> None:
    root = catalogue(tmp_path, ISSUER)
    (root / "logo.png").write_bytes(b"not an image")

    assert errors(root) == ["issuer.yaml:5:7: image 'logo.png' cannot be read as an image"]


def test_a_course_overrides_any_key_and_its_files_are_its_own(tmp_path: Path) -> None:
    course = VALID + textwrap.dedent("""\
        issuer:
          name:
            es: Facultad de Prueba
          orientation: portrait
          logo: escudo.png
        """)
    root = catalogue(tmp_path, ISSUER, course)
    (root / "course" / "escudo.png").write_bytes(PNG)

    result = load_catalogue([root], render=False)

    assert result.problems == []
    issuer = result.courses["ok-course"].issuer
    assert issuer is not None
    frozen = issuer.frozen()
    assert frozen["name"] == {"es": "Facultad de Prueba"}
    assert frozen["orientation"] == "portrait"
    assert frozen["logo"] == "course/escudo.png"
    assert frozen["url"] == "https://example.org"  # not overridden: the institution's
    assert [s["name"] for s in frozen["signatories"]] == ["Ana Firma", "Luis Sinfirma"]


def test_a_course_override_is_checked_like_the_rest_of_the_course(tmp_path: Path) -> None:
    course = VALID + textwrap.dedent("""\
        issuer:
          logo: escudo.png
          signatories:
            - name: Pedro
              cargo: Decano
        """)
    root = catalogue(tmp_path, ISSUER, course)

    assert errors(root) == [
        "course/course.yaml:24:9: image 'escudo.png' does not exist",
        "course/course.yaml:26:7: missing required key 'title'",
        "course/course.yaml:27:7: unknown key 'cargo'",
    ]


def test_a_programme_overrides_the_issuer_of_its_diploma(tmp_path: Path) -> None:
    root = catalogue(tmp_path, ISSUER)
    (root / "programmes").mkdir()
    (root / "programmes" / "p.yaml").write_text(
        "id: p\ntitle: Programa\nhours: 1\ncourses: [ok-course]\n"
        "issuer:\n  orientation: portrait\n  signatories:\n    - name: Rita\n      title: Rectora\n"
        "      signature: nada.png\n",
        encoding="utf-8",
    )

    assert errors(root) == ["programmes/p.yaml:10:18: image 'nada.png' does not exist"]

    (root / "programmes" / "nada.png").write_bytes(PNG)
    programme = load_catalogue([root], render=False).programmes["p"]
    assert programme.issuer is not None
    frozen = programme.issuer.frozen()
    assert frozen["orientation"] == "portrait"
    assert frozen["signatories"] == [
        {"name": "Rita", "title": "Rectora", "signature": "programmes/nada.png"}
    ]
    assert programme.parts == (("ok-course", "Curso", 0.02),)


def test_ecampus_validate_reports_issuer_errors_as_file_line_col(tmp_path: Path) -> None:
    root = catalogue(tmp_path, ISSUER.replace("    title: Coordinador", "    titel: Coordinador"))

    result = ecampus(
        "validate",
        str(root),
        cwd=tmp_path,
        env={"LANG": "en_US.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""},
    )

    assert result.returncode == 1
    expected = "courses/issuer.yaml:13:5: unknown key 'titel' (did you mean 'title'?)"
    assert expected in result.stdout + result.stderr


def test_a_broken_issuer_keeps_serving_the_last_good_one(tmp_path: Path) -> None:
    from ecampus.courses.catalog import Catalogue

    root = catalogue(tmp_path, ISSUER)
    live = Catalogue(root=root)
    live.load()
    good = live.issuer
    assert good is not None

    (root / "issuer.yaml").write_text("name: [\n", encoding="utf-8")
    live.load()

    assert live.issuer == good
    assert live.courses["ok-course"].issuer == good
    assert any(p.file.name == "issuer.yaml" for p in live.problems)


def test_current_issuer_follows_the_file(tmp_path: Path) -> None:
    root = catalogue(tmp_path, ISSUER)
    first = current_issuer(root)
    assert first is not None
    assert first.name["en"] == "Test Institute"

    (root / "issuer.yaml").write_text(ISSUER.replace("Test Institute", "Other Institute"))

    changed = current_issuer(root)
    assert changed is not None
    assert changed.name["en"] == "Other Institute"
    shutil.rmtree(root)
    assert current_issuer(root) is None


@pytest.mark.parametrize(
    ("languages", "expected"),
    [(("en", "es"), "Test"), (("fr", "es"), "Prueba"), (("en-GB",), "Test"), (("fr",), "Prueba")],
)
def test_names_in_the_readers_language_then_the_courses(
    languages: tuple[str, ...], expected: str
) -> None:
    assert localized({"es": "Prueba", "en": "Test"}, *languages) == expected


def test_schema_describes_every_key_and_the_committed_file_is_current() -> None:
    schema = issuer_json_schema()
    described = [schema["properties"], schema["$defs"]["Signatory"]["properties"]]
    for properties in described:
        for name, value in properties.items():
            assert value.get("title"), name
            assert value.get("description"), name
    assert schema["required"] == ["name"]
    assert schema["additionalProperties"] is False
    committed = json.loads((BUNDLED / "issuer.schema.json").read_text(encoding="utf-8"))
    assert committed == schema, "run `make schema`"


def test_a_heavy_image_is_a_warning(tmp_path: Path) -> None:
    root = catalogue(tmp_path, ISSUER)
    (root / "logo.png").write_bytes(PNG + b"\0" * 300_000)

    result = load_catalogue([root], render=False)

    assert [(p.severity, p.format(root)) for p in result.problems] == [
        (
            "warning",
            "issuer.yaml:5:7: warning: image 'logo.png' weighs 300 KB: every certificate and "
            "its verification page carry it, so keep it under 200 KB",
        )
    ]
    assert result.issuer is not None
