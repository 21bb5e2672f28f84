"""The course cache: a restart reads the loaded catalogue back, and only when nothing it
depends on changed (files, code, the secret that signs it)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from ecampus.courses import cache as course_cache
from ecampus.courses.cache import CourseCache, scan
from ecampus.courses.catalog import Catalogue
from ecampus.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "courses"
SECRET = "s" * 40


def copy_catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "courses"
    shutil.copytree(FIXTURES, root)
    return root


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as old enough for their times alone to tell a change (not racy)."""
    monkeypatch.setattr(course_cache, "RACY_SECONDS", 0.0)


def loaded(root: Path, folder: Path, secret: str = SECRET) -> Catalogue:
    catalogue = Catalogue(root=root, cache=CourseCache(folder, secret))
    catalogue.load()
    return catalogue


def test_a_restart_reads_the_same_catalogue_back(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    parsed = loaded(root, tmp_path / "cache")
    assert not parsed.from_cache
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700

    again = loaded(root, tmp_path / "cache")
    assert again.from_cache
    assert again.courses == parsed.courses
    assert again.programmes == parsed.programmes
    assert again.issuer == parsed.issuer
    assert again.problems == parsed.problems
    assert again._snapshot == parsed._snapshot  # the watcher sees no change
    assert again.reload_if_changed() is False
    for course_id, course in parsed.courses.items():
        cached = again.courses[course_id]
        assert cached.version == course.version
        for item_id, item in course.items.items():
            other = cached.items[item_id]
            if item.type == "lesson":
                assert other.html == item.html  # type: ignore[union-attr]
            else:
                assert dict(other.prompts_html) == dict(item.prompts_html)  # type: ignore[union-attr]


@pytest.mark.usefixtures("settled")
def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    time.sleep(0.05)
    loaded(root, tmp_path / "cache")
    yaml = root / "demo-course" / "course.yaml"
    yaml.write_text(yaml.read_text().replace("title: Curso de prueba", "title: Curso nuevo"))
    changed = loaded(root, tmp_path / "cache")
    assert not changed.from_cache
    assert changed.courses["demo-course"].title == "Curso nuevo"
    assert loaded(root, tmp_path / "cache").from_cache  # and cached again


@pytest.mark.usefixtures("settled")
@pytest.mark.parametrize("change", ["added", "removed"])
def test_a_file_added_or_removed_is_a_miss(tmp_path: Path, change: str) -> None:
    root = copy_catalogue(tmp_path)
    time.sleep(0.05)
    loaded(root, tmp_path / "cache")
    lessons = root / "demo-course" / "lessons"
    if change == "added":
        (lessons / "new.md").write_text("# Nueva\n")
    else:
        (lessons / "segunda.md").unlink()
    after = loaded(root, tmp_path / "cache")
    assert not after.from_cache
    # A body_file that no longer exists fails the course (nothing was loaded before it).
    assert ("demo-course" in after.courses) == (change == "added")


def test_a_recent_file_is_checked_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written within the file system's time resolution of the scan could change
    again without its times showing it: its content is compared too."""
    root = copy_catalogue(tmp_path)  # just written: every file is racy
    before = scan(root)
    assert before.racy()
    loaded(root, tmp_path / "cache")
    assert loaded(root, tmp_path / "cache").from_cache  # same content: still a hit

    yaml = root / "demo-course" / "course.yaml"
    text = yaml.read_text()
    yaml.write_text(text.replace("Curso de prueba", "Curso de pruebo"))  # same size
    # As if the file system kept the same times for the second write.
    monkeypatch.setattr("ecampus.courses.catalog.scan", lambda _root: before)
    again = loaded(root, tmp_path / "cache")
    assert not again.from_cache
    assert again.courses["demo-course"].title.endswith("pruebo")


def test_old_enough_files_drop_their_content_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_catalogue(tmp_path)
    loaded(root, tmp_path / "cache")  # just written: racy, their content hashes kept
    file = CourseCache(tmp_path / "cache", SECRET).file_for(root)
    size = file.stat().st_size
    time.sleep(0.05)
    monkeypatch.setattr(course_cache, "RACY_SECONDS", 0.0)  # as if some seconds passed
    assert loaded(root, tmp_path / "cache").from_cache
    assert file.stat().st_size < size  # written again without the hashes
    assert loaded(root, tmp_path / "cache").from_cache


@pytest.mark.usefixtures("settled")
def test_another_secret_code_or_damage_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_catalogue(tmp_path)
    time.sleep(0.05)
    folder = tmp_path / "cache"
    loaded(root, folder)
    assert not loaded(root, folder, secret="t" * 40).from_cache  # rewritten under that key
    assert not loaded(root, folder).from_cache

    monkeypatch.setattr(course_cache, "_CODE", b"another version of the loader")
    assert not loaded(root, folder).from_cache
    monkeypatch.undo()

    loaded(root, folder)
    file = CourseCache(folder, SECRET).file_for(root)
    data = bytearray(file.read_bytes())
    data[-10] ^= 0xFF
    file.write_bytes(bytes(data))
    catalogue = loaded(root, folder)
    assert not catalogue.from_cache
    assert "demo-course" in catalogue.courses


@pytest.mark.usefixtures("settled")
def test_a_pickle_that_does_not_load_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_catalogue(tmp_path)
    time.sleep(0.05)
    loaded(root, tmp_path / "cache")

    def broken(_data: bytes) -> object:
        raise AttributeError("Can't get attribute 'Gone' on <module>")

    real = course_cache.pickle.loads
    monkeypatch.setattr(
        course_cache.pickle,
        "loads",
        lambda data: real(data) if len(data) < 200 else broken(data),
    )
    catalogue = loaded(root, tmp_path / "cache")
    assert not catalogue.from_cache
    assert "demo-course" in catalogue.courses


@pytest.mark.usefixtures("settled")
def test_a_failed_issuer_is_not_cached(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    (root / "issuer.yaml").write_text("name: [broken\n")
    time.sleep(0.05)
    catalogue = loaded(root, tmp_path / "cache")
    assert any(p.file.name == "issuer.yaml" for p in catalogue.problems)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_no_cache_inside_the_courses_folder(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    catalogue = Catalogue(root=root, cache=CourseCache(root / ".cache", SECRET))
    assert catalogue.cache is None
    catalogue.load()
    assert not (root / ".cache").exists()


def test_an_unwritable_folder_serves_without_a_cache(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    catalogue = loaded(root, blocker / "cache")
    assert "demo-course" in catalogue.courses


def test_the_cache_folder_setting(tmp_path: Path) -> None:
    base = {"ECAMPUS_SECRET_KEY": SECRET, "HOME": str(tmp_path)}
    assert Settings.from_env(base).cache_dir == tmp_path / ".cache" / "ecampus"
    assert Settings.from_env({**base, "XDG_CACHE_HOME": str(tmp_path / "x")}).cache_dir == (
        tmp_path / "x" / "ecampus"
    )
    assert Settings.from_env({**base, "CACHE_DIRECTORY": str(tmp_path / "s")}).cache_dir == (
        tmp_path / "s"
    )
    assert Settings.from_env({**base, "ECAMPUS_CACHE_DIR": str(tmp_path / "c")}).cache_dir == (
        tmp_path / "c"
    )
    assert Settings.from_env({**base, "ECAMPUS_CACHE_DIR": "off"}).cache_dir is None
    assert Settings.from_env({**base, "ECAMPUS_ENV": "test"}).cache_dir is None
    assert Settings().cache_dir is None
