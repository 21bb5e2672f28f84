"""YAML 1.2 scalars, and the live catalogue's reload rules."""

from __future__ import annotations

import shutil
from pathlib import Path

from ecampus.courses.catalog import Catalogue
from ecampus.courses.yamlnodes import load

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "courses"


def test_yaml_1_2_scalars_keep_what_authors_wrote() -> None:
    data = load("a: [No, yes, on, true, False, 010, 0x1f, 1:30, 2024-05-01, 2.5, ~]").data
    assert data == {"a": ["No", "yes", "on", True, False, 10, 31, "1:30", "2024-05-01", 2.5, None]}


def copy_catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "courses"
    shutil.copytree(FIXTURES, root)
    return root


def test_broken_edit_keeps_last_good_version(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    catalogue = Catalogue(root=root)
    catalogue.load()
    good = catalogue.get("demo-course")
    assert good is not None
    yaml = root / "demo-course" / "course.yaml"
    yaml.write_text(yaml.read_text().replace("title: Curso de prueba", "title: [broken"))
    assert catalogue.reload_if_changed()
    assert catalogue.get("demo-course") is good
    assert any("YAML syntax error" in p.message for p in catalogue.problems)
    yaml.write_text(yaml.read_text().replace("title: [broken", "title: Curso nuevo"))
    assert catalogue.reload_if_changed()
    assert catalogue.get("demo-course").title == "Curso nuevo"  # type: ignore[union-attr]
    assert catalogue.reload_if_changed() is False


def test_renamed_id_and_removed_programmes(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    catalogue = Catalogue(root=root)
    catalogue.load()
    assert set(catalogue.programmes) == {"demo-programme"}
    yaml = root / "demo-course" / "course.yaml"
    yaml.write_text(yaml.read_text().replace("id: demo-course", "id: renamed-course"))
    (root / "programmes" / "demo-programme.yaml").unlink()
    catalogue.load()
    assert set(catalogue.courses) == {"renamed-course"}
    assert catalogue.programmes == {}
    shutil.rmtree(root / "demo-course")
    catalogue.load()
    assert catalogue.courses == {}


def test_translation_groups_and_checks(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    english = root / "demo-english"
    shutil.copytree(root / "demo-course", english)
    yaml = english / "course.yaml"
    yaml.write_text(
        yaml.read_text()
        .replace("id: demo-course", "id: demo-english")
        .replace("language: es", "language: en\ntranslations: [demo-course, nowhere]")
    )
    catalogue = Catalogue(root=root)
    catalogue.load()
    assert [c.id for c in catalogue.variants("demo-course")] == ["demo-english", "demo-course"]
    assert catalogue.group_key("demo-english") == "demo-course"
    assert [p.format(root) for p in catalogue.problems if p.severity == "error"] == [
        "demo-english/course.yaml:4:29: translation names unknown course 'nowhere'"
    ]
