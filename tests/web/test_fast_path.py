"""The lesson page is served ahead of the router (web/fastpath.py) for a plain signed-in
GET; everything else goes the normal way. Both ways must give the same page."""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import event
from starlette.requests import Request
from starlette.responses import Response

from ecampus.accounts import service as accounts
from ecampus.accounts import sessions, tokens
from ecampus.app import create_app
from ecampus.settings import Settings
from ecampus.web.fastpath import LessonFastPath
from ecampus.web.sessions import SESSION_COOKIE
from tests import factories
from tests.web.test_pages import COURSE, csrf, login
from tests.web.test_sessions import db

LESSON = f"/courses/{COURSE}/items/leccion-1"
QUIZ = f"/courses/{COURSE}/items/quiz-1"
# Headers that differ between any two responses, whichever way they were made.
VARYING = {"date", "content-length", "set-cookie"}


class Served:
    """Counts the requests the fast path answered itself (the lesson page and its other
    routes: the course page, the signed-in catalogue, the JSON item; the API's hot writes)."""

    def __init__(self) -> None:
        self.answered = 0


def counting_client(settings: Settings) -> tuple[TestClient, Served]:
    app = create_app(settings)
    served = Served()

    def counting(handler: Callable[..., Awaitable[Response | None]]) -> Any:
        async def counted(request: Request, *groups: str) -> Response | None:
            response = await handler(request, *groups)
            served.answered += response is not None
            return response

        return counted

    for middleware in app.user_middleware:
        if middleware.cls is LessonFastPath:
            middleware.kwargs["handler"] = counting(middleware.kwargs["handler"])
            for kind in ("routes", "writes"):
                middleware.kwargs[kind] = tuple(
                    (pattern, counting(handler)) for pattern, handler in middleware.kwargs[kind]
                )
    return TestClient(app), served


def enrolled(client: TestClient, **profile: Any) -> dict[str, Any]:
    data = factories.register(client, **profile)
    login(client, data["email"], data["password"])
    page = client.get(f"/courses/{COURSE}")
    client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(page.text)})
    return data  # (the enrolment's redirect to the first lesson went the fast way)


def comparable(response: Any) -> tuple[int, str, dict[str, str]]:
    body = re.sub(r'name="csrf_token" value="[^"]*"', "CSRF", response.text)
    headers = {k: v for k, v in response.headers.items() if k.lower() not in VARYING}
    return response.status_code, body, headers


def test_the_lesson_page_is_the_same_either_way(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        enrolled(client)
        served.answered = 0
        for path in (LESSON, QUIZ):
            fast = client.get(path)
            assert served.answered == 1, path
            # A query string sends it the normal way (the router and its dependencies).
            normal = client.get(path + "?via=router")
            assert served.answered == 1, path
            assert fast.status_code == 200
            assert comparable(fast) == comparable(normal)
            served.answered = 0
        # An HTMX request for the page's main block gets the same fragment either way.
        hx = {"HX-Request": "true", "HX-Target": "main"}
        fast = client.get(LESSON, headers=hx)
        normal = client.get(LESSON + "?via=router", headers=hx)
        assert served.answered == 1
        assert comparable(fast) == comparable(normal)
        assert "<html" not in fast.text


def test_anything_unusual_goes_the_normal_way(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        # No session cookie: the sign-in redirect, from the normal route.
        anonymous = client.get(LESSON, follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")
        data = factories.register(client)
        login(client, data["email"], data["password"])
        # Signed in but not enrolled: sent to the course page to enrol, as before.
        not_enrolled = client.get(LESSON, follow_redirects=False)
        assert not_enrolled.status_code in (303, 307)
        assert not_enrolled.headers["location"].endswith(f"/courses/{COURSE}")
        page = client.get(f"/courses/{COURSE}")
        client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(page.text)})
        served.answered = 0
        # Unknown items and courses: the normal 404 page, in the reader's language.
        for missing in (f"/courses/{COURSE}/items/nope", "/courses/nope/items/leccion-1"):
            response = client.get(missing)
            assert response.status_code == 404
            assert 'lang="es"' in response.text
        # Ids with characters authors cannot use, a NUL: the normal input checks answer.
        assert client.get(f"/courses/{COURSE}/items/le%00ccion").status_code in (400, 404, 422)
        assert served.answered == 0
        # The session ended elsewhere: the sign-in redirect, not a page.
        with db(client) as session:
            user = accounts.get_by_email(session, data["email"])
            assert user is not None
            sessions.deactivate(session, user=user)
        gone = client.get(LESSON, follow_redirects=False)
        assert gone.status_code == 303
        assert gone.headers["location"].startswith("/login")
        assert served.answered == 0


def test_the_fast_path_renews_the_session_cookie(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        enrolled(client)
        served.answered = 0
        claims = jwt.get_unverified_claims(client.cookies[SESSION_COOKIE])
        aged, _ = tokens.create_access_token(
            secret=settings.secret_key,
            issuer=settings.base_url,
            user_id=int(claims["sub"]),
            session_id=claims["sid"],
            language="es",
            minutes=settings.token_minutes,
            now=datetime.now(UTC) - timedelta(minutes=settings.token_minutes * 0.9),
        )
        client.cookies.delete(SESSION_COOKIE)
        client.cookies.set(SESSION_COOKIE, aged)
        response = client.get(LESSON)
        assert response.status_code == 200
        assert served.answered == 1
        renewed = response.cookies[SESSION_COOKIE]
        assert renewed != aged
        assert jwt.get_unverified_claims(renewed)["sid"] == claims["sid"]
        assert "HttpOnly" in response.headers["set-cookie"]


def test_the_reader_language_is_the_same_either_way(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        enrolled(client, language="en")  # the account's language wins
        served.answered = 0
        fast = client.get(LESSON)
        assert served.answered == 1
        assert fast.headers["content-language"] == "en"
        assert 'lang="en"' in fast.text
        assert comparable(fast) == comparable(client.get(LESSON + "?via=router"))


def test_hot_reads_query_on_the_event_loop_without_a_worker_thread(settings: Settings) -> None:
    """The lesson page, the JSON item, the signed-in catalogue and any signed-in request's
    session check read on the event loop's own reader (dbfast.LoopReader): a worker-thread
    round trip costs more than the query. A quiz page still reads in a worker thread."""
    client, served = counting_client(settings)
    with client:
        data = enrolled(client)
        token = client.post(
            "/api/v1/auth/token", data={"username": data["email"], "password": data["password"]}
        ).json()["access_token"]
        client.get(LESSON)  # warm: templates, caches, the reader's connection
        heard: list[tuple[str, str]] = []

        def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            heard.append((threading.current_thread().name, statement))

        engine = client.app.state.engine  # type: ignore[attr-defined]
        event.listen(engine, "before_cursor_execute", listen)
        try:
            pages = {
                "lesson": client.get(LESSON),
                "catalogue": client.get("/"),
                "JSON item": client.get(
                    f"/api/v1/courses/{COURSE}/items/leccion-1",
                    headers={"Authorization": f"Bearer {token}"},
                ),
            }
            reads = len(heard)
            # My learning: its session check on the loop, its own queries in a worker thread.
            mine = client.get("/me")
            mine_heard = heard[reads:]
            quiz_from = len(heard)
            quiz = client.get(QUIZ)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        for name, response in pages.items():
            assert response.status_code == 200, name
        assert mine.status_code == 200
        assert quiz.status_code == 200
        assert served.answered >= 3
        assert reads == 3, heard  # one statement each
        threads = {thread for thread, _statement in heard[:reads]}
        assert len(threads) == 1, heard  # the event loop's thread, for each of them
        (loop_thread,) = threads
        assert mine_heard[0][0] == loop_thread
        assert "user_sessions" in mine_heard[0][1]
        assert all(thread != loop_thread for thread, _statement in mine_heard[1:])
        assert all(thread != loop_thread for thread, _statement in heard[quiz_from:])
