"""The API's hot writes run on the event loop, with no worker thread, unless the loop cannot
take them: an attempt or a lesson that completes the course (its certificate is written
through a Session in a worker thread), or a database busy for longer than a moment. Either
way the learner's work is stored once."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest

from ecampus.progression import completion
from ecampus.settings import Settings
from tests.web.test_api import KEY
from tests.web.test_fast_path import counting_client
from tests.web.test_fast_writes import API, QUIZ, enrolled_token

WRONG = {"q1": "a"}


def threads_way(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the units that went to a worker thread (they still run)."""
    calls: list[str] = []
    for name in ("submit_attempt", "complete_lesson"):
        original = getattr(completion, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(completion, name, counted)
    return calls


def test_attempts_and_lessons_are_written_on_the_loop_until_the_course_completes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, served = counting_client(settings)
    calls = threads_way(monkeypatch)
    with client:
        auth = enrolled_token(client)
        for way in ("", "?via=router"):  # the fast path's and the router's alike
            wrong = client.post(f"{QUIZ}/attempts{way}", headers=auth, json={"answers": WRONG})
            assert wrong.status_code == 200, wrong.text
            assert wrong.json()["passed"] is False
        assert client.get(QUIZ, headers=auth).json()["attempts_used"] == 2
        lesson = client.post(f"{API}/leccion-1/complete", headers=auth)
        assert lesson.status_code == 200
        assert lesson.json()["completed_at"] is None
        again = client.post(f"{API}/leccion-1/complete?via=router", headers=auth)
        assert again.json()["done"] == lesson.json()["done"]
        client.post(f"{API}/leccion-2/complete", headers=auth)
        client.post(f"{API}/leccion-3/complete", headers=auth)
        assert calls == []  # none of it went to a worker thread
        passed = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY})
        body = passed.json()
        assert passed.status_code == 200
        assert body["passed"] is True
        assert body["attempt"] == 3
        # The course completed: its certificate is written in a worker thread.
        assert calls == ["submit_attempt"]
        assert body["progress"]["status"] == "completed"
        assert body["progress"]["certificate"]
        assert served.answered >= 5


def test_a_lesson_that_completes_the_course_goes_to_a_thread(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _served = counting_client(settings)
    calls = threads_way(monkeypatch)
    with client:
        auth = enrolled_token(client)
        assert client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()["passed"]
        client.post(f"{API}/leccion-1/complete", headers=auth)
        client.post(f"{API}/leccion-2/complete", headers=auth)
        assert calls == []
        last = client.post(f"{API}/leccion-3/complete", headers=auth).json()
        assert calls == ["complete_lesson"]
        assert last["status"] == "completed"
        assert last["certificate"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("patience", [1.0, 0.05])
def test_another_processes_write_lock_costs_a_wait_not_a_refusal(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, patience: float
) -> None:
    # Another app process (or the CLI) holds SQLite's write lock for a while: the loop
    # looks again after short pauses, serving other requests meanwhile; past its patience
    # the attempt goes to a worker thread, which waits in SQLite's busy handler. Either
    # way it is stored once.
    monkeypatch.setattr(completion, "LOOP_PATIENCE", patience)
    client, _served = counting_client(settings)
    calls = threads_way(monkeypatch)
    path = settings.database_url.removeprefix("sqlite:///")
    with client:
        auth = enrolled_token(client)
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            other.execute("BEGIN IMMEDIATE")
            timer = threading.Timer(0.3, lambda: other.execute("ROLLBACK"))
            timer.start()
            started = time.perf_counter()
            answer = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": WRONG})
            took = time.perf_counter() - started
            timer.join()
        finally:
            other.close()
        assert answer.status_code == 200, answer.text
        assert answer.json()["attempt"] == 1
        assert took >= 0.25  # it waited for the lock rather than failing
        threads = ["submit_attempt"] if patience < 0.3 else []
        assert calls == threads
        assert client.get(QUIZ, headers=auth).json()["attempts_used"] == 1
        # With the lock free again, the next one is the loop's.
        client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": WRONG})
        assert calls == threads
        assert client.get(QUIZ, headers=auth).json()["attempts_used"] == 2
