"""The hot writes, statement by statement: a quiz submission and a lesson read.

Each is one worker-thread turn whose first query reads everything the write needs (the
caller's live session for the API, the enrolment and its item rows, the quiz's attempts and
grants), then writes without reading again: on SQLite the attempt, the item row and the
enrolment's progress (three statements in one transaction); on PostgreSQL, unless the write
completes the course, all of them in one statement committed by itself (no BEGIN or COMMIT
round trips). What the learner then reads back is what the write answered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlmodel import Session

from ecampus.learning.models import Enrollment
from ecampus.quizzes.models import Attempt
from tests import factories
from tests.web.test_pages import csrf, login

COURSE = "demo-course"
QUIZ = f"/api/v1/courses/{COURSE}/items/quiz-1"
LESSON = f"/api/v1/courses/{COURSE}/items/leccion-1/complete"
KEY = {"q1": "b", "q2": ["x", "z"], "q3": True, "q4": "IGM", "q5": 7}
WRONG = {"q1": "a", "q2": ["x"], "q3": False, "q4": "no", "q5": 1}


def engine_of(client: TestClient) -> Engine:
    return client.app.state.engine  # type: ignore[attr-defined]


@contextlib.contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def writes(client: TestClient) -> int:
    """Statements a write runs after its read: three on SQLite, one on PostgreSQL."""
    return 1 if engine_of(client).dialect.name == "postgresql" else 3


def enrolled(client: TestClient) -> tuple[int, dict[str, str]]:
    _data, auth = factories.learner(client)
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    return client.get("/api/v1/me", headers=auth).json()["id"], auth


def attempts_of(client: TestClient, user_id: int) -> int:
    with Session(engine_of(client)) as session:
        return (
            session.scalar(
                select(func.count()).select_from(Attempt).where(Attempt.user_id == user_id)
            )
            or 0
        )


def test_a_quiz_submission_reads_once_then_writes(client: TestClient) -> None:
    user_id, auth = enrolled(client)
    client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": WRONG})  # warm
    with counted(engine_of(client)) as statements:
        response = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": WRONG})
    assert response.status_code == 200, response.text
    assert len(statements) == 1 + writes(client), statements
    read = statements[0]
    for table in ("user_sessions", "enrollments", "item_progress", "attempts", "attempt_grants"):
        assert table in read, (table, read)
    assert all(not s.lstrip().upper().startswith("SELECT") for s in statements[1:]), statements
    assert response.json()["attempt"] == 2
    assert attempts_of(client, user_id) == 2


def test_a_lesson_read_reads_once_then_writes(client: TestClient) -> None:
    _user_id, auth = enrolled(client)
    with counted(engine_of(client)) as statements:
        response = client.post(LESSON, headers=auth)
    assert response.status_code == 200, response.text
    # The lesson's row and the progress: two statements on SQLite, one on PostgreSQL.
    assert len(statements) == 1 + min(writes(client), 2), statements
    assert "user_sessions" in statements[0]
    assert "enrollments" in statements[0]


def test_the_quiz_page_form_writes_the_same_way(client: TestClient) -> None:
    data = factories.register(client)
    login(client, data["email"], data["password"])
    course = client.get(f"/courses/{COURSE}")
    client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(course.text)})
    page = client.get(f"/courses/{COURSE}/items/quiz-1")
    form = {"csrf_token": csrf(page.text), "q1": "a", "q4": "no"}
    client.post(f"/courses/{COURSE}/items/quiz-1/attempts", data=form)  # warm
    with counted(engine_of(client)) as statements:
        graded = client.post(f"/courses/{COURSE}/items/quiz-1/attempts", data=form)
    assert graded.status_code == 200
    assert "(intento 2)" in graded.text or "(attempt 2)" in graded.text
    # The session middleware's check of the caller, then the submission's own statements.
    own = [s for s in statements if "enrollments" in s or not s.lstrip().startswith("SELECT")]
    assert len(own) == 1 + writes(client), statements
    assert len(statements) <= len(own) + 1, statements


def test_the_answer_is_what_the_learner_reads_back(client: TestClient) -> None:
    """Progress is computed from the rows read and the row written, not read again: it
    agrees with a fresh read, and with what the enrolment stores for reports."""
    user_id, auth = enrolled(client)
    first = client.post(LESSON, headers=auth).json()
    assert first == client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).json()
    failed = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": WRONG}).json()
    passed = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    again = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": WRONG}).json()
    assert (failed["attempt"], passed["attempt"], again["attempt"]) == (1, 2, 3)
    assert again["attempts_left"] == 0
    fresh = client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).json()
    assert again["progress"] == fresh
    assert fresh["done"] == ["leccion-1", "quiz-1"]  # passed once: stays passed
    assert fresh["score"] == passed["score"]  # the best score is kept
    with Session(engine_of(client)) as session:
        enrollment = session.scalars(select(Enrollment).where(Enrollment.user_id == user_id)).one()
    assert (enrollment.progress, enrollment.status, enrollment.score) == (
        fresh["progress"],
        fresh["status"],
        fresh["score"],
    )
    assert enrollment.last_item_id == "quiz-1"
    assert enrollment.completed_at is None


def test_an_ended_session_writes_nothing(client: TestClient) -> None:
    user_id, auth = enrolled(client)
    assert client.post("/api/v1/auth/logout", headers=auth).status_code == 204
    refused = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert client.post(LESSON, headers=auth).status_code == 401
    assert attempts_of(client, user_id) == 0
    with Session(engine_of(client)) as session:
        enrollment = session.scalars(select(Enrollment).where(Enrollment.user_id == user_id)).one()
    assert (enrollment.progress, enrollment.last_item_id) == (0, None)
    # An unknown course: the session is checked first, as for any other answer.
    gone = client.post("/api/v1/courses/nope/items/x/attempts", headers=auth, json={"answers": {}})
    assert gone.status_code == 401
    assert client.post("/api/v1/courses/nope/items/x/complete", headers=auth).status_code == 401
