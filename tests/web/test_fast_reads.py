"""The course page, the signed-in catalogue and the JSON item are served ahead of the router
(web/fastpath.py, `routes`) for a plain signed-in GET, as the lesson page is; anything else
goes the normal way. Both ways must answer alike, and the session check stays live."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ecampus.accounts import service as accounts
from ecampus.accounts import sessions
from ecampus.quizzes.blocking import attempts_by_quiz, counts_by_quiz, grants_by_quiz
from ecampus.quizzes.service import grant
from ecampus.settings import Settings
from tests import factories
from tests.web.test_fast_path import VARYING, comparable, counting_client, enrolled
from tests.web.test_pages import COURSE, csrf, login
from tests.web.test_sessions import db
from tests.web.test_write_statements import counted

COURSE_PAGE = f"/courses/{COURSE}"
API_LESSON = f"/api/v1/courses/{COURSE}/items/leccion-1"
API_QUIZ = f"/api/v1/courses/{COURSE}/items/quiz-1"


def api_comparable(response: Any) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in VARYING}
    return response.status_code, response.content, headers


def bearer(client: TestClient, data: dict[str, Any]) -> dict[str, str]:
    return factories.token(client, data["email"], data["password"])


def test_course_page_and_catalogue_are_the_same_either_way(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        enrolled(client)
        for path, router_path in ((COURSE_PAGE, COURSE_PAGE + "?via=router"), ("/", "/?q=")):
            served.answered = 0
            fast = client.get(path)
            assert served.answered == 1, path
            normal = client.get(router_path)
            assert served.answered == 1, path  # a query string goes the normal way
            assert fast.status_code == 200
            assert comparable(fast) == comparable(normal)
        # The catalogue's HTMX fragment (its results block) is the same either way.
        hx = {"HX-Request": "true", "HX-Target": "results"}
        served.answered = 0
        fast = client.get("/", headers=hx)
        assert served.answered == 1
        assert "<html" not in fast.text
        assert comparable(fast) == comparable(client.get("/?q=", headers=hx))
        # Progress shows at once: a lesson done, the cached course page changes with it.
        before = client.get(COURSE_PAGE).text
        page = client.get(f"{COURSE_PAGE}/items/leccion-1")
        client.post(f"{COURSE_PAGE}/items/leccion-1/complete", data={"csrf_token": csrf(page.text)})
        after = client.get(COURSE_PAGE)
        assert after.text != before
        assert comparable(after) == comparable(client.get(COURSE_PAGE + "?via=router"))


def test_the_json_item_is_the_same_either_way(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        data = enrolled(client)
        auth = bearer(client, data)
        for path in (API_LESSON, API_QUIZ):
            served.answered = 0
            fast = client.get(path, headers=auth)
            assert served.answered == 1, path
            normal = client.get(path + "?via=router", headers=auth)
            assert served.answered == 1, path
            assert fast.status_code == 200
            assert api_comparable(fast) == api_comparable(normal)
        quiz = client.get(API_QUIZ, headers=auth).json()
        assert quiz["attempts_used"] == 0
        assert quiz["attempts_left"] == 3
        # No correct answer reaches the caller before an attempt.
        assert all("answer" not in q and "explanation" not in q for q in quiz["questions"])


def test_anything_unusual_goes_the_normal_way(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        # Anonymous: the normal pages and the API's 401.
        assert "/login?next=/courses/" in client.get(COURSE_PAGE).text
        assert client.get("/").status_code == 200
        missing = client.get(API_LESSON)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert served.answered == 0
        data = factories.register(client)
        login(client, data["email"], data["password"])
        auth = bearer(client, data)
        # Not enrolled, unknown items and courses: the normal answers, counted as not served.
        served.answered = 0
        cases = [
            (API_LESSON, 403),
            (f"/api/v1/courses/{COURSE}/items/nope", 404),
            ("/api/v1/courses/nope/items/leccion-1", 404),
        ]
        for path, expected in cases:
            fast = client.get(path, headers=auth)
            assert fast.status_code == expected, path
            assert api_comparable(fast) == api_comparable(client.get(path + "?x=1", headers=auth))
        nope = client.get("/courses/nope")
        assert nope.status_code == 404
        assert 'lang="es"' in nope.text
        assert served.answered == 0
        # Not enrolled, the course page offers enrolment (answered by the fast path).
        page = client.get(COURSE_PAGE)
        assert f'action="/courses/{COURSE}/enroll"' in page.text
        assert served.answered == 1
        # The session ended elsewhere: at once signed out on the page, 401 on the API.
        with db(client) as session:
            user = accounts.get_by_email(session, data["email"])
            assert user is not None
            sessions.deactivate(session, user=user)
        served.answered = 0
        gone = client.get(COURSE_PAGE)
        assert "/login?next=/courses/" in gone.text
        assert comparable(gone) == comparable(client.get(COURSE_PAGE + "?via=router"))
        assert 'action="/logout"' not in client.get("/").text
        assert client.get(API_LESSON, headers=auth).status_code == 401


def test_logout_takes_effect_at_once(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        enrolled(client)
        served.answered = 0
        page = client.get(COURSE_PAGE)
        assert served.answered == 1
        assert 'action="/logout"' in page.text
        client.post("/logout", data={"csrf_token": csrf(page.text)})
        assert 'action="/logout"' not in client.get(COURSE_PAGE).text
        assert 'action="/logout"' not in client.get("/").text


def test_the_course_page_counts_attempts_and_grants_in_one_query(settings: Settings) -> None:
    """Every attempt used: the course page says the course is blocked; a coordinator's extra
    attempt lifts it. The page reads the caller's session, the course state and both counts
    in one statement (quizzes.blocking.page_state_and_counts_on_loop); the worker thread's
    way reads both counts in one query (counts_by_quiz), which agrees with the two it
    replaces."""
    client, served = counting_client(settings)
    with client:
        data, auth = factories.learner(client)
        assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
        wrong = factories.wrong_answers(client, COURSE, "quiz-1")
        for _ in range(3):
            quiz = f"/api/v1/courses/{COURSE}/items/quiz-1/attempts"
            assert client.post(quiz, json={"answers": wrong}, headers=auth).status_code == 200
        login(client, data["email"], data["password"])
        served.answered = 0
        engine = client.app.state.engine  # type: ignore[attr-defined]
        with counted(engine) as statements:
            blocked = client.get(COURSE_PAGE, headers={"accept-language": "es"})
        assert served.answered == 1
        assert "Bloqueado: sin intentos" in blocked.text
        assert len(statements) == 1, statements
        for table in (
            "user_sessions",
            "enrollments",
            "item_progress",
            "attempts",
            "attempt_grants",
        ):
            assert f"FROM {table}" in statements[0] or f"JOIN {table}" in statements[0], table
        course = client.app.state.catalogue.get(COURSE)  # type: ignore[attr-defined]
        with db(client) as session:
            user = accounts.get_by_email(session, data["email"])
            assert user is not None
            assert user.id is not None
            grant(session, user_id=user.id, course_id=COURSE, quiz=course.items["quiz-1"],
                  count=1, granted_by_id=None)  # fmt: skip
            session.commit()
            used, granted = counts_by_quiz(engine, user_id=user.id, course_id=COURSE)
            assert used == attempts_by_quiz(session, user_id=user.id, course_id=COURSE)
            assert granted == grants_by_quiz(session, user_id=user.id, course_id=COURSE)
        assert used == {"quiz-1": 3}
        assert granted == {"quiz-1": 1}
        with counted(engine) as statements:
            free = client.get(COURSE_PAGE, headers={"accept-language": "es"})
        assert len(statements) == 1, statements
        assert "Bloqueado: sin intentos" not in free.text
        assert comparable(free) == comparable(client.get(COURSE_PAGE + "?via=router"))
