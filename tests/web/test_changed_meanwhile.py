"""A write computes the enrolment's progress from what it read; when another request of the
same learner writes in between (another tab, a double click, another process), the write
lands only if the enrolment is unchanged since its read (learning.ChangedMeanwhile), else it
reads again. The progress stored for reports is then what the learner's rows make.

Each test lets another lesson be done right after the request's first read, on every way a
write goes: the event loop (SQLite's loop transaction, PostgreSQL's pipe) and the worker
thread (SQLite's transaction, PostgreSQL's one statement in autocommit). Without the check,
the request stored its progress computed without that lesson (33 % where the rows made
66 %)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from ecampus.courses.content import CourseContent
from ecampus.learning import service as learning
from ecampus.learning.models import Enrollment
from ecampus.progression import completion
from ecampus.settings import Settings
from tests.web.test_fast_path import counting_client
from tests.web.test_fast_writes import API, COURSE, QUIZ, enrolled_token

WRONG = {"q1": "a"}  # a failed attempt: the course is not completed by it


def stored(engine: Engine, user_id: int) -> tuple[int, str]:
    enrollments = Enrollment.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        row = connection.execute(
            select(enrollments.c.progress, enrollments.c.status).where(
                enrollments.c.user_id == user_id, enrollments.c.course_id == COURSE
            )
        ).one()
    return row[0], row[1]


def another_lesson_after_the_first_read(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, user_id: int, lesson: str
) -> list[str]:
    """After the next write's first read, `lesson` is done by another request (written in
    full, through the worker thread's way); returns the reads made."""
    app = client.app.state  # type: ignore[attr-defined]
    engine: Engine = app.engine
    course: CourseContent = app.catalogue.get(COURSE)
    reads: list[str] = []

    def other_request() -> None:
        completion.complete_lesson(
            engine,
            user_id=user_id,
            session_id=None,
            course=course,
            item_id=lesson,
            catalogue=app.catalogue,
            admit=lambda _account: course.items[lesson],
        )

    original = learning.read_for_write
    original_on_loop = learning.read_for_write_on_loop

    def read(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        reads.append("read")
        if len(reads) == 1:
            other_request()
        return result

    async def read_on_loop(*args: Any, **kwargs: Any) -> Any:
        import asyncio

        result = await original_on_loop(*args, **kwargs)
        reads.append("read")
        if len(reads) == 1:
            await asyncio.to_thread(other_request)
        return result

    monkeypatch.setattr(learning, "read_for_write", read)
    monkeypatch.setattr(learning, "read_for_write_on_loop", read_on_loop)
    return reads


def me(client: TestClient, auth: dict[str, str]) -> int:
    return int(client.get("/api/v1/me", headers=auth).json()["id"])


def thread_only(monkeypatch: pytest.MonkeyPatch) -> None:
    async def not_on_the_loop(*_args: Any, **_kwargs: Any) -> None:
        return None

    monkeypatch.setattr(completion, "complete_lesson_on_loop", not_on_the_loop)
    monkeypatch.setattr(completion, "submit_attempt_on_loop", not_on_the_loop)


Learner = tuple[TestClient, dict[str, str], int]


@pytest.fixture
def learner(settings: Settings) -> Iterator[Learner]:
    """An enrolled learner's client, bearer header and id."""
    client, _served = counting_client(settings)
    with client:
        auth = enrolled_token(client)
        yield client, auth, me(client, auth)


@pytest.mark.parametrize("way", ["loop", "thread"])
def test_a_lesson_whose_read_went_stale_reads_again(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    client, auth, user_id = learner
    if way == "thread":
        thread_only(monkeypatch)
    reads = another_lesson_after_the_first_read(monkeypatch, client, user_id, "leccion-2")
    answer = client.post(f"{API}/leccion-1/complete", headers=auth)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {"leccion-1", "leccion-2"} <= set(body["done"])
    # Read twice: the first read missed leccion-2, and nothing was written from it.
    assert len(reads) == 3  # the request's two, and the other request's one
    engine = client.app.state.engine  # type: ignore[attr-defined]
    assert stored(engine, user_id) == (body["progress"], body["status"])
    progress = client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).json()
    assert (progress["progress"], progress["done"]) == (body["progress"], body["done"])


@pytest.mark.parametrize("way", ["loop", "thread"])
def test_an_attempt_whose_read_went_stale_reads_again(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    client, auth, user_id = learner
    assert client.post(f"{API}/leccion-1/complete", headers=auth).status_code == 200
    if way == "thread":
        thread_only(monkeypatch)
    reads = another_lesson_after_the_first_read(monkeypatch, client, user_id, "leccion-2")
    answer = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": WRONG})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["attempt"] == 1  # stored once, not once per read
    assert {"leccion-1", "leccion-2"} <= set(body["progress"]["done"])
    assert len(reads) == 3
    engine = client.app.state.engine  # type: ignore[attr-defined]
    assert stored(engine, user_id) == (body["progress"]["progress"], body["progress"]["status"])
    assert client.get(QUIZ, headers=auth).json()["attempts_used"] == 1


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    original = learning.read_for_write
    original_on_loop = learning.read_for_write_on_loop

    def read(*args: Any, **kwargs: Any) -> Any:
        reads.append("read")
        return original(*args, **kwargs)

    async def read_on_loop(*args: Any, **kwargs: Any) -> Any:
        reads.append("read")
        return await original_on_loop(*args, **kwargs)

    monkeypatch.setattr(learning, "read_for_write", read)
    monkeypatch.setattr(learning, "read_for_write_on_loop", read_on_loop)
    return reads


def test_one_learners_writes_on_the_loop_take_turns(
    learner: Learner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three attempts and three lessons of one learner at once, on the loop of one process:
    each waits for the one before to be written and reads once, where they had all read the
    same state and all but one read again (and again), on PostgreSQL."""
    client, auth, user_id = learner
    app = client.app.state  # type: ignore[attr-defined]
    course: CourseContent = app.catalogue.get(COURSE)
    reads = count_reads(monkeypatch)

    async def at_once() -> list[Any]:
        import asyncio

        common = {"user_id": user_id, "session_id": None, "course": course}
        attempts = [
            completion.submit_attempt_on_loop(
                app.loop_reader,
                item_id="quiz-1",
                answers=WRONG,
                admit=lambda _account: course.items["quiz-1"],
                **common,
            )
            for _ in range(3)
        ]
        lessons = [
            completion.complete_lesson_on_loop(
                app.loop_reader,
                admit=lambda _account, lesson=lesson: course.items[lesson],
                **common,
            )
            for lesson in ("leccion-1", "leccion-2", "leccion-3")
        ]
        return list(await asyncio.gather(*attempts, *lessons))

    assert client.portal is not None
    outcomes = client.portal.call(at_once)
    assert None not in outcomes  # all written on the loop
    assert sorted(o.attempt.number for o in outcomes[:3]) == [1, 2, 3]
    assert len(reads) == 6  # one each: none read again
    engine = app.engine
    progress = client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).json()
    assert set(progress["done"]) == {"leccion-1", "leccion-2", "leccion-3"}
    assert stored(engine, user_id) == (progress["progress"], progress["status"])
