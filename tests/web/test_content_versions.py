"""Editing a course on disk under a running app never costs learners their progress.

Each test starts the real app with its course watcher on, edits course.yaml as an author
would, waits for the watcher to reload it, and checks what learners and reports now see.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecampus.accounts.models import Role
from ecampus.app import create_app
from tests import factories
from tests.conftest import make_settings

COURSE = "demo-course"
QUIZ = f"/api/v1/courses/{COURSE}/items/quiz-1"
KEY = {"q1": "b", "q2": ["x", "z"], "q3": True, "q4": "IGM", "q5": 7}
LESSONS = ("leccion-1", "leccion-2", "leccion-3")


@pytest.fixture
def live(database_url: str, courses_dir: Path) -> Iterator[TestClient]:
    settings = make_settings(database_url, courses_dir, watch_courses=True, watch_seconds=0.05)
    with TestClient(create_app(settings)) as client:
        yield client


def edit(client: TestClient, courses_dir: Path, old: str, new: str) -> None:
    """Change course.yaml on disk and wait until the running app has reloaded it."""
    catalogue = client.app.state.catalogue  # type: ignore[attr-defined]
    before = catalogue.generation
    path = courses_dir / COURSE / "course.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    deadline = time.monotonic() + 10
    while catalogue.generation == before:
        assert time.monotonic() < deadline, "the watcher did not reload the course"
        time.sleep(0.02)
    client.get("/healthz")  # let the reload's follow-up work (progress refresh) finish
    time.sleep(0.2)


def learner(
    client: TestClient, *, lessons: tuple[str, ...] = (), quiz: bool = False
) -> dict[str, str]:
    _data, auth = factories.learner(client)
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    for lesson in lessons:
        client.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
    if quiz:
        assert client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()["passed"]
    return auth


def progress(client: TestClient, auth: dict[str, str]) -> dict[str, object]:
    return client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).json()  # type: ignore[no-any-return]


def report_row(client: TestClient, auth: dict[str, str]) -> dict[str, object]:
    email = client.get("/api/v1/me", headers=auth).json()["email"]
    coordinator = factories.staff(client, Role.coordinator)
    rows = client.get(
        "/api/v1/reports/completions", params={"course": COURSE}, headers=coordinator
    ).json()
    return next(r for r in rows if r["email"] == email)


def test_retitle_reorder_and_add_keep_progress(live: TestClient, courses_dir: Path) -> None:
    auth = learner(live, lessons=("leccion-1",))
    edit(live, courses_dir, "title: Primera lección", "title: Lección inicial, renombrada")
    edit(
        live,
        courses_dir,
        "  - id: dos\n    title: Segundo módulo\n    items:\n",
        "  - id: dos\n    title: Segundo módulo\n    items:\n"
        "      - id: leccion-nueva\n        title: Nueva\n        minutes: 5\n        body: Nueva.\n",
    )
    state = progress(live, auth)
    assert state["done"] == ["leccion-1"]
    assert state["progress"] == 20  # 1 of the 5 items now in the course
    assert report_row(live, auth)["progress"] == 20  # the stored value followed the edit


def test_removed_item_can_complete_learners(live: TestClient, courses_dir: Path) -> None:
    almost = learner(live, lessons=("leccion-1", "leccion-2"), quiz=True)  # all but leccion-3
    other = learner(live, lessons=("leccion-3",))
    assert progress(live, almost)["status"] == "in_progress"
    text = (courses_dir / COURSE / "course.yaml").read_text()
    edit(live, courses_dir, text[text.index("  - id: dos") :], "")  # module 2 and leccion-3 go
    state = progress(live, almost)
    assert state["status"] == "completed"  # the refresh completed them ...
    assert state["certificate"]  # ... and issued their certificate
    assert report_row(live, almost)["status"] == "completed"
    # The removed lesson's row is kept, but no longer counts.
    assert progress(live, other)["done"] == []
    assert progress(live, other)["progress"] == 0


def test_changed_quiz_keeps_passes_and_versions(live: TestClient, courses_dir: Path) -> None:
    auth = learner(live, quiz=True)
    old_version = live.get(f"/api/v1/courses/{COURSE}").json()["version"]
    edit(live, courses_dir, "            answer: b\n", "            answer: c\n")
    new_version = live.get(f"/api/v1/courses/{COURSE}").json()["version"]
    assert new_version != old_version
    state = progress(live, auth)
    assert "quiz-1" in state["done"]  # passed under the old key: still passed
    assert state["score"] == 100  # and the best score is kept
    retry = live.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    assert retry["score"] == 80  # graded against the new key
    assert retry["progress"]["score"] == 100
    from sqlmodel import Session, select

    from ecampus.quizzes.models import Attempt

    with Session(live.app.state.engine) as session:  # type: ignore[attr-defined]
        versions = [
            a.content_version for a in session.exec(select(Attempt).order_by(Attempt.number))
        ]
    assert versions == [old_version, new_version]


def test_required_item_added_after_completion(live: TestClient, courses_dir: Path) -> None:
    done = learner(live, lessons=LESSONS, quiz=True)
    halfway = learner(live, lessons=("leccion-1", "leccion-2"))
    code = progress(live, done)["certificate"]
    assert code
    edit(
        live,
        courses_dir,
        "        body: |\n          Fin.",
        "        body: |\n          Fin.\n      - id: leccion-4\n        title: Cuarta\n"
        "        minutes: 5\n        body: |\n          Más.",
    )
    kept = progress(live, done)
    assert kept["status"] == "completed"  # completion is never taken back
    assert kept["certificate"] == code
    assert live.get(f"/api/v1/certificates/{code}").json()["valid"] is True
    assert kept["next_item"] == "leccion-4"  # the new lesson is there to read
    moved = progress(live, halfway)
    assert moved["progress"] == 40  # 2 of 5
    assert moved["status"] == "in_progress"


def test_broken_edit_keeps_serving_and_tells_authors(live: TestClient, courses_dir: Path) -> None:
    auth = learner(live, lessons=("leccion-1",))
    edit(live, courses_dir, "title: Curso de prueba", "title: [roto")
    assert live.get(f"/api/v1/courses/{COURSE}").json()["title"] == "Curso de prueba"
    assert progress(live, auth)["done"] == ["leccion-1"]
    author = factories.staff(live, Role.author)
    status = live.get("/api/v1/authoring/status", headers=author).json()
    course = next(c for c in status["courses"] if c["id"] == COURSE)
    assert course["serving_last_good_version"] is True
    assert any(
        p["file"] == "demo-course/course.yaml"
        and (p["line"], p["column"]) == (3, 9)
        and "started at line 2, column 8" in p["message"]
        for p in status["problems"]
    )
    assert not any("programme names unknown course" in p["message"] for p in status["problems"])
    edit(live, courses_dir, "title: [roto", "title: Curso arreglado")
    assert live.get(f"/api/v1/courses/{COURSE}").json()["title"] == "Curso arreglado"


def test_going_back_to_an_older_version_refreshes_reports(
    live: TestClient, courses_dir: Path
) -> None:
    auth = learner(live, lessons=("leccion-1",))
    new_lesson = "      - id: leccion-nueva\n        title: Nueva\n        minutes: 5\n        body: Nueva.\n"
    anchor = "  - id: dos\n    title: Segundo módulo\n    items:\n"
    edit(live, courses_dir, anchor, anchor + new_lesson)
    assert report_row(live, auth)["progress"] == 20
    edit(live, courses_dir, anchor + new_lesson, anchor)  # the author reverts the commit
    assert progress(live, auth)["progress"] == 25
    assert report_row(live, auth)["progress"] == 25


def test_a_withdrawn_enrolment_is_not_completed_by_new_content(
    live: TestClient, courses_dir: Path
) -> None:
    """Removing the last item a withdrawn learner lacked neither completes nor certifies
    them; enrolling again restores the enrolment, which catches up at its next activity."""
    almost = learner(live, lessons=("leccion-1", "leccion-2"), quiz=True)  # all but leccion-3
    email = live.get("/api/v1/me", headers=almost).json()["email"]
    coordinator = factories.staff(live, Role.coordinator)
    withdrawn = live.delete(f"/api/v1/courses/{COURSE}/enrollments/{email}", headers=coordinator)
    assert withdrawn.status_code == 204
    text = (courses_dir / COURSE / "course.yaml").read_text()
    edit(live, courses_dir, text[text.index("  - id: dos") :], "")  # module 2 and leccion-3 go
    rows = live.get(
        "/api/v1/reports/completions",
        params={"course": COURSE, "status": "withdrawn"},
        headers=coordinator,
    ).json()
    assert [(r["email"], r["completed_at"]) for r in rows] == [(email, None)]
    assert live.get("/api/v1/me/certificates", headers=almost).json() == []
    # Enrolled again, the learner's progress counts again and completes the course.
    assert (
        live.post(f"/api/v1/courses/{COURSE}/enroll", headers=almost).json()["status"]
        == "completed"
    )
