"""Nothing half-done: a completion always comes with its certificate, on both databases.

Faults are injected where a crash used to split the two (between the completion and the
certificate); databases left broken by older versions are healed; the content refresh never
overwrites a completion made while it runs; a contended database answers 503, never "no
attempts left".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlmodel import Session

from ecampus.app import create_app
from ecampus.certificates import service as certificates
from ecampus.courses.catalog import Catalogue
from ecampus.learning.models import Enrollment, ItemProgress
from ecampus.progression import refresh
from ecampus.progression.repair import repair_missing_certificates
from ecampus.quizzes.models import Attempt
from ecampus.settings import Settings
from tests import factories
from tests.web.test_pages import csrf, login

COURSE = "demo-course"
PROGRAMME = "demo-programme"
QUIZ = f"/api/v1/courses/{COURSE}/items/quiz-1"
KEY = {"q1": "b", "q2": ["x", "z"], "q3": True, "q4": "IGM", "q5": 7}
LESSONS = ("leccion-1", "leccion-2", "leccion-3")


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    """The real app, answering a server error with its 500 page as in production."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def engine_of(client: TestClient) -> Engine:
    return client.app.state.engine  # type: ignore[attr-defined]


def catalogue_of(client: TestClient) -> Catalogue:
    return client.app.state.catalogue  # type: ignore[attr-defined]


def learner(client: TestClient, *, lessons: tuple[str, ...] = ()) -> tuple[int, dict[str, str]]:
    _data, auth = factories.learner(client)
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    for lesson in lessons:
        done = client.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
        assert done.status_code == 200, done.text
    return client.get("/api/v1/me", headers=auth).json()["id"], auth


def stored(client: TestClient, user_id: int) -> dict[str, Any]:
    """What the database holds for the learner: enrolment, attempts, certificates."""
    with Session(engine_of(client)) as session:
        enrollment = session.scalars(select(Enrollment).where(Enrollment.user_id == user_id)).one()
        attempts = session.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.user_id == user_id)
        )
        issued = sorted(
            (c.kind, c.subject_id, c.revoked_at is None)
            for c in certificates.of_user(session, user_id=user_id)
        )
        return {
            "status": enrollment.status,
            "completed_at": enrollment.completed_at,
            "attempts": attempts,
            "certificates": issued,
        }


BOTH = [("course", COURSE, True), ("programme", PROGRAMME, True)]


# -- a fault between completion and certificate leaves neither half ---------------------------


def _fail(*_args: object, **_kwargs: object) -> Any:
    raise RuntimeError("injected fault: the process died while building the certificate")


FAULTS = {
    "certificate code": (certificates, "new_code"),
    "course certificate insert": (certificates, "issue_for_course"),
    "programme diploma": (certificates, "issue_programmes"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_during_attempt_keeps_neither_half(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    user_id, auth = learner(app_client, lessons=LESSONS)
    module, name = FAULTS[fault]
    monkeypatch.setattr(module, name, _fail)

    crashed = app_client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY})

    assert crashed.status_code == 500
    after = stored(app_client, user_id)
    # Not completed, no certificate, and the attempt was not counted against the learner.
    assert (after["status"], after["completed_at"]) == ("in_progress", None)
    assert (after["attempts"], after["certificates"]) == (0, [])
    mine = app_client.get("/api/v1/me/courses", headers=auth).json()[0]
    assert (mine["status"], mine["certificate"]) == ("in_progress", None)

    monkeypatch.undo()
    retried = app_client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    assert (retried["attempt"], retried["progress"]["status"]) == (1, "completed")
    assert retried["progress"]["certificate"]
    healed = stored(app_client, user_id)
    assert healed["completed_at"] is not None
    assert healed["certificates"] == BOTH


def test_fault_during_last_lesson_keeps_neither_half(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, auth = learner(app_client, lessons=LESSONS[:2])
    assert app_client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()["passed"]
    monkeypatch.setattr(certificates, "new_code", _fail)
    last = f"/api/v1/courses/{COURSE}/items/leccion-3/complete"

    assert app_client.post(last, headers=auth).status_code == 500
    after = stored(app_client, user_id)
    assert (after["status"], after["completed_at"], after["certificates"]) == (
        "in_progress",
        None,
        [],
    )
    outline = app_client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).json()
    assert outline["progress"] == 75  # the lesson itself was not kept either

    monkeypatch.undo()
    done = app_client.post(last, headers=auth).json()
    assert (done["status"], done["progress"]) == ("completed", 100)
    assert done["certificate"]
    assert stored(app_client, user_id)["certificates"] == BOTH


# -- a database left broken by an older version is healed -------------------------------------


def broken_completion(client: TestClient, *, days_ago: int = 3) -> tuple[int, dict[str, str]]:
    """A learner left as an older version's crash left them: completed, with no certificate."""
    user_id, auth = learner(client)
    completed_at = datetime.now(UTC) - timedelta(days=days_ago)
    course = catalogue_of(client).get(COURSE)
    assert course is not None
    with Session(engine_of(client)) as session:
        for item in course.items.values():
            session.add(
                ItemProgress(
                    user_id=user_id,
                    course_id=COURSE,
                    item_id=item.id,
                    kind=item.type,
                    completed_at=completed_at,
                    best_score=90 if item.type == "quiz" else None,
                    passed=item.type == "quiz",
                    content_version=course.version,
                )
            )
        enrollment = session.scalars(select(Enrollment).where(Enrollment.user_id == user_id)).one()
        enrollment.progress, enrollment.status, enrollment.score = 100, "completed", 90
        enrollment.completed_at = completed_at
        session.add(enrollment)
        session.commit()
    assert stored(client, user_id)["certificates"] == []
    return user_id, auth


def test_repair_issues_what_completed_learners_are_missing(client: TestClient) -> None:
    first, _ = broken_completion(client, days_ago=3)
    second, _ = broken_completion(client, days_ago=1)
    revoked, revoked_auth = learner(client, lessons=LESSONS)
    code = client.post(f"{QUIZ}/attempts", headers=revoked_auth, json={"answers": KEY}).json()
    with Session(engine_of(client)) as session:
        certificates.revoke(session, code=code["progress"]["certificate"], reason="in error")
    not_done, _ = learner(client, lessons=LESSONS[:1])

    with Session(engine_of(client), expire_on_commit=False) as session:
        issued = repair_missing_certificates(session, catalogue=catalogue_of(client))
        again = repair_missing_certificates(session, catalogue=catalogue_of(client))

    assert sorted((c.user_id, c.kind) for c in issued) == [
        (first, "course"),
        (first, "programme"),
        (second, "course"),
        (second, "programme"),
    ]
    assert again == []  # idempotent
    for user_id in (first, second):
        assert stored(client, user_id)["certificates"] == BOTH
        with Session(engine_of(client)) as session:
            held = certificates.of_user(session, user_id=user_id)
            enrollment = session.scalars(
                select(Enrollment).where(Enrollment.user_id == user_id)
            ).one()
        # Dated at the completion that earned them, with the score it had.
        assert {c.issued_at for c in held} == {enrollment.completed_at}
        assert next(c for c in held if c.kind == "course").score == 90
    # A revoked certificate is a coordinator's decision: the repair does not undo it (nor the
    # diploma that counted it, revoked with it).
    assert stored(client, revoked)["certificates"] == [
        ("course", COURSE, False),
        ("programme", PROGRAMME, False),
    ]
    assert stored(client, not_done)["certificates"] == []


def test_start_up_heals_the_database(client: TestClient, settings: Settings) -> None:
    user_id, _ = broken_completion(client)
    with TestClient(create_app(settings)):
        pass  # a new process starting on this database
    assert stored(client, user_id)["certificates"] == BOTH


@pytest.mark.parametrize("visit", ["/api/v1/me/courses", "/api/v1/me/certificates"])
def test_next_visit_heals_the_learner(client: TestClient, visit: str) -> None:
    user_id, auth = broken_completion(client)
    other, _ = broken_completion(client)

    seen = client.get(visit, headers=auth)

    assert seen.status_code == 200
    assert stored(client, user_id)["certificates"] == BOTH
    assert stored(client, other)["certificates"] == []  # only the visitor is repaired
    mine = client.get("/api/v1/me/courses", headers=auth).json()[0]
    assert (mine["status"], mine["certificate"] is not None) == ("completed", True)


def test_course_page_visit_heals_the_learner(client: TestClient) -> None:
    user_id, auth = broken_completion(client)
    email = client.get("/api/v1/me", headers=auth).json()["email"]
    login(client, email, "correct horse battery")

    page = client.get(f"/courses/{COURSE}")

    assert page.status_code == 200
    assert stored(client, user_id)["certificates"] == BOTH
    with Session(engine_of(client)) as session:
        code = certificates.current_for(session, user_id=user_id, kind="course", subject_id=COURSE)
    assert code is not None
    assert code.code in page.text


# -- the content refresh never overwrites a newer completion ----------------------------------


def test_refresh_keeps_a_completion_made_while_it_runs(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, auth = learner(client, lessons=LESSONS)
    # Stored progress from before a content change, which the refresh will want to rewrite.
    with Session(engine_of(client)) as session:
        session.execute(
            text("UPDATE enrollments SET progress = 0, status = 'not_started' WHERE user_id = :u"),
            {"u": user_id},
        )
        session.commit()
    completed: dict[str, Any] = {}
    real = refresh.sticky_progress

    def learner_finishes_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # Runs after the refresh has read the enrolment and its items, before it writes.
        if not completed:
            result = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
            completed.update(result["progress"])
        return real(*args, **kwargs)

    monkeypatch.setattr(refresh, "sticky_progress", learner_finishes_meanwhile)
    course = catalogue_of(client).get(COURSE)
    assert course is not None
    with Session(engine_of(client)) as session:
        refresh.refresh_course(session, course=course, catalogue=catalogue_of(client))

    assert completed["status"] == "completed"
    after = stored(client, user_id)
    assert after["status"] == "completed"
    assert after["completed_at"] is not None
    assert after["certificates"] == BOTH
    mine = client.get("/api/v1/me/courses", headers=auth).json()[0]
    assert (mine["progress"], mine["certificate"]) == (100, completed["certificate"])


def test_refresh_still_writes_what_it_should(client: TestClient) -> None:
    """The guard refuses only stale writes: untouched enrolments are brought up to date."""
    user_id, _auth = learner(client, lessons=LESSONS[:2])
    with Session(engine_of(client)) as session:
        session.execute(
            text("UPDATE enrollments SET progress = 0, status = 'not_started' WHERE user_id = :u"),
            {"u": user_id},
        )
        session.commit()
    course = catalogue_of(client).get(COURSE)
    assert course is not None
    with Session(engine_of(client)) as session:
        changed = refresh.refresh_course(session, course=course, catalogue=catalogue_of(client))
    assert changed == 1
    assert stored(client, user_id)["status"] == "in_progress"


# -- contention is retried, then reported as contention ---------------------------------------


def test_contention_is_503_not_no_attempts_left(app_client: TestClient) -> None:
    user_id, auth = learner(app_client, lessons=LESSONS)
    with attempts_locked(app_client):
        busy = app_client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY})

    assert busy.status_code == 503, busy.text
    assert int(busy.headers["retry-after"]) > 0
    assert "busy" in busy.json()["detail"]
    assert "not lost" in busy.json()["detail"]
    assert stored(app_client, user_id)["attempts"] == 0  # nothing was counted

    again = app_client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    assert (again["attempt"], again["attempts_left"], again["passed"]) == (1, 2, True)
    assert again["progress"]["certificate"]


@contextlib.contextmanager
def attempts_locked(client: TestClient, table: str = "attempts") -> Iterator[None]:
    """Another transaction holds the write lock that storing an attempt (or, with
    table="item_progress", marking a lesson read) needs.

    The app's connections, its pool's and its event loop's own (dbfast.LoopReader, which
    writes on the loop first), are made to wait 100 ms for a lock instead of 10 s (SQLite)
    or for as long as it is held (PostgreSQL), so that its retries run out quickly.
    """
    engine = engine_of(client)
    postgres = engine.dialect.name == "postgresql"
    reader = client.app.state.loop_reader  # type: ignore[attr-defined]

    def reopen() -> None:
        engine.dispose()
        assert client.portal is not None
        client.portal.call(reader.aclose)  # on the app's own loop

    def short_lock_wait(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 100")
        cursor.close()

    def database_lock_wait(value: str) -> None:
        # Every new connection to the database, the loop's pipes included.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            name = connection.exec_driver_sql("SELECT current_database()").scalar()
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" SET lock_timeout = {value}')

    if postgres:
        database_lock_wait("'100ms'")
    else:
        event.listen(engine, "connect", short_lock_wait)
    reopen()  # connections made from now on wait briefly
    other = create_engine(engine.url)
    try:
        with other.connect() as holder:
            if postgres:
                holder.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
            else:
                holder.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                holder.rollback()
    finally:
        other.dispose()
        if postgres:
            database_lock_wait("DEFAULT")
        else:
            event.remove(engine, "connect", short_lock_wait)
        reopen()


def test_contention_on_the_quiz_page_keeps_the_answers(app_client: TestClient) -> None:
    data = factories.register(app_client)
    login(app_client, data["email"], data["password"])
    course = app_client.get(f"/courses/{COURSE}")
    app_client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(course.text)})
    quiz = app_client.get(f"/courses/{COURSE}/items/quiz-1")
    with attempts_locked(app_client):
        busy = app_client.post(
            f"/courses/{COURSE}/items/quiz-1/attempts",
            data={"csrf_token": csrf(quiz.text), "q1": "b", "q4": "Instituto"},
            headers={"accept-language": "es"},
        )

    assert busy.status_code == 503
    assert int(busy.headers["retry-after"]) > 0
    assert "sus respuestas no se perdieron" in busy.text
    assert 'value="Instituto"' in busy.text  # the form comes back filled in
    assert "todos los intentos" not in busy.text


def test_contention_marking_a_lesson_read_is_503(app_client: TestClient) -> None:
    data = factories.register(app_client)
    login(app_client, data["email"], data["password"])
    course = app_client.get(f"/courses/{COURSE}")
    app_client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(course.text)})
    lesson = app_client.get(f"/courses/{COURSE}/items/leccion-1")
    _user, auth = learner(app_client)
    with attempts_locked(app_client, "item_progress"):
        page = app_client.post(
            f"/courses/{COURSE}/items/leccion-1/complete",
            data={"csrf_token": csrf(lesson.text)},
            headers={"accept-language": "es"},
            follow_redirects=False,
        )
        api = app_client.post(f"/api/v1/courses/{COURSE}/items/leccion-1/complete", headers=auth)

    assert (page.status_code, api.status_code) == (503, 503)
    assert int(page.headers["retry-after"]) > 0
    assert int(api.headers["retry-after"]) > 0
    assert "El servidor está ocupado" in page.text
    assert "busy" in api.json()["detail"]
    done = app_client.post(f"/api/v1/courses/{COURSE}/items/leccion-1/complete", headers=auth)
    assert done.json()["progress"] == 25


# -- concurrent submissions never exceed max_attempts -----------------------------------------


def test_fifty_concurrent_submissions_store_exactly_max_attempts(client: TestClient) -> None:
    user_id, auth = learner(client, lessons=LESSONS)

    def submit(_n: int) -> int:
        return client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(submit, range(50)))

    assert statuses.count(200) == 3, statuses
    assert set(statuses) <= {200, 409, 503}, statuses  # busy at worst, never a server error
    with Session(engine_of(client)) as session:
        numbers = session.scalars(select(Attempt.number).where(Attempt.user_id == user_id)).all()
    assert sorted(numbers) == [1, 2, 3]
    assert stored(client, user_id)["certificates"] == BOTH
