"""The API's hot writes (a quiz attempt, a lesson done) are served ahead of the router
(web/fastpath.py, `writes`) for a caller with a token, or with the session cookie and its CSRF
token. Both ways must answer alike, errors included; a request the fast path declines reaches
the normal way with its body intact, and it never writes twice."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ecampus.dbretry import Contention
from ecampus.progression import completion
from ecampus.settings import Settings
from ecampus.web.fastpath import API_ATTEMPT, WRITE_BODY_MAX, LessonFastPath
from tests import factories
from tests.aio import run
from tests.web.test_api import KEY
from tests.web.test_fast_path import VARYING, comparable, counting_client
from tests.web.test_pages import COURSE, csrf, login

API = f"/api/v1/courses/{COURSE}/items"
QUIZ = f"{API}/quiz-1"
# The certificate's code and the moment of completion are the learner's own.
OWN = re.compile(rb'"(certificate|completed_at)":"[^"]+"')


def answer(response: Any) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in VARYING}
    return response.status_code, OWN.sub(rb'"\1":"OWN"', response.content), headers


def enrolled_token(client: TestClient) -> dict[str, str]:
    _data, auth = factories.learner(client)
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    return auth


# (path, body as JSON, raw body, extra headers): a course taken from start to certificate,
# with every kind of refusal on the way.
STEPS: list[tuple[str, Any, bytes | None, dict[str, str]]] = [
    (f"{API}/leccion-1/complete", None, None, {}),
    (f"{API}/leccion-1/complete", None, None, {}),  # again: idempotent
    (f"{QUIZ}/complete", None, None, {}),  # 409: a quiz is completed by passing it
    (f"{API}/no-such-item/complete", None, None, {}),  # 404
    ("/api/v1/courses/no-such-course/items/leccion-1/complete", None, None, {}),  # 404
    (f"{QUIZ}/attempts", {"answers": {"q1": "a"}}, None, {}),  # a wrong attempt
    (f"{QUIZ}/attempts", {"answers": {"q1": "zz"}}, None, {}),  # 422: not an option
    (f"{QUIZ}/attempts", {"nope": 1}, None, {}),  # 422: FastAPI's validation
    (f"{QUIZ}/attempts", None, b"[", {"content-type": "application/json"}),  # 422: not JSON
    (f"{QUIZ}/attempts", None, b"", {"content-type": "application/json"}),  # 422: no body
    (f"{QUIZ}/attempts", {"answers": {"q1": "a\u0000"}}, None, {}),  # 422: a NUL
    (
        f"{QUIZ}/attempts",
        None,
        json.dumps({"answers": {}}).encode(),
        {"content-type": "text/plain"},
    ),
    (f"{QUIZ}/attempts", {"answers": {"q1": "a" * (WRITE_BODY_MAX + 1)}}, None, {}),  # long
    (f"{API}/leccion-1/attempts", {"answers": {}}, None, {}),  # 409: a lesson
    (f"{API}/leccion-2/complete", None, None, {}),
    (f"{API}/leccion-3/complete", None, None, {}),
    (f"{QUIZ}/attempts", {"answers": KEY}, None, {}),  # passed: the course and its certificate
    (f"{QUIZ}/attempts", {"answers": {}}, None, {}),  # passed, still an attempt left
    (f"{QUIZ}/attempts", {"answers": KEY}, None, {}),  # 409: no attempts left
]


def run_steps(client: TestClient, auth: dict[str, str], query: str) -> list[Any]:
    answers = []
    for path, body, raw, headers in STEPS:
        if raw is not None:
            response = client.post(path + query, headers={**auth, **headers}, content=raw)
        else:
            response = client.post(path + query, headers={**auth, **headers}, json=body)
        answers.append(answer(response))
    return answers


def test_the_api_writes_answer_the_same_either_way(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        fast_learner, normal_learner = enrolled_token(client), enrolled_token(client)
        served.answered = 0
        fast = run_steps(client, fast_learner, "")
        # Every write went the fast way, its refusals too, but for those the router's
        # dependencies answer (a body that is not the model, not JSON, too long, or text
        # with a NUL): the fast path declined them before writing anything.
        assert served.answered == len(STEPS) - 6
        served.answered = 0
        normal = run_steps(client, normal_learner, "?via=router")  # a query string: normal
        assert served.answered == 0
        assert [a[0] for a in fast] == [
            200, 200, 409, 404, 404, 200, 422, 422, 422, 422, 422, 422, 422,
            409, 200, 200, 200, 200, 409,
        ]  # fmt: skip
        assert fast == normal
        passed = json.loads(fast[16][1])
        assert passed["passed"]
        assert passed["progress"]["status"] == "completed"
        # Each learner's attempts were counted once: three each, the fourth refused.
        for auth in (fast_learner, normal_learner):
            item = client.get(f"{QUIZ}", headers=auth).json()
            assert (item["attempts_used"], item["attempts_left"]) == (3, 0)


def test_a_cookie_needs_its_csrf_token_either_way(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        data = factories.register(client)
        login(client, data["email"], data["password"])
        page = client.get(f"/courses/{COURSE}")
        client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(page.text)})
        token = csrf(client.get(f"/courses/{COURSE}").text)
        for query in ("", "?via=router"):
            served.answered = 0
            refused = client.post(f"{API}/leccion-1/complete{query}")
            assert refused.status_code == 403
            assert refused.json() == {"detail": "CSRF check failed: reload the page and try again"}
            wrong = client.post(f"{API}/leccion-1/complete{query}", headers={"X-CSRF-Token": "x"})
            assert wrong.status_code == 403
            assert served.answered == 0
            done = client.post(f"{API}/leccion-1/complete{query}", headers={"X-CSRF-Token": token})
            assert done.status_code == 200
            assert done.json()["done"] == ["leccion-1"]
            assert served.answered == (1 if not query else 0)
        # A token that is not ours, or none: 401 the normal way.
        client.cookies.clear()
        for auth in ({"Authorization": "Bearer nope"}, {}):
            response = client.post(f"{API}/leccion-1/complete", headers=auth)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"


def test_a_busy_database_is_answered_alike_and_nothing_is_written(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, served = counting_client(settings)
    with client:
        auth = enrolled_token(client)
        calls = []

        def contended(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            raise Contention("test")

        async def contended_on_loop(*args: Any, **kwargs: Any) -> Any:
            contended()

        # Either way of writing it (the event loop's, then a worker thread's) finds it busy.
        monkeypatch.setattr(completion, "submit_attempt_on_loop", contended_on_loop)
        monkeypatch.setattr(completion, "submit_attempt", contended)
        served.answered = 0
        fast = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY})
        assert served.answered == 1
        normal = client.post(f"{QUIZ}/attempts?via=router", headers=auth, json={"answers": KEY})
        assert fast.status_code == 503
        assert fast.headers["retry-after"] == "2"
        assert answer(fast) == answer(normal)
        assert len(calls) == 2  # once each way: the fast path's refusal was not run again
        monkeypatch.undo()
        item = client.get(f"{QUIZ}", headers=auth).json()
        assert item["attempts_used"] == 0


def test_the_apps_own_body_limit_holds_either_way(settings: Settings) -> None:
    small = dataclasses.replace(settings, max_body_bytes=2048)
    client, served = counting_client(small)
    with client:
        auth = enrolled_token(client)
        answers = {"answers": {"q1": "a" * 3000}}
        served.answered = 0
        fast = client.post(f"{QUIZ}/attempts", headers=auth, json=answers)
        normal = client.post(f"{QUIZ}/attempts?via=router", headers=auth, json=answers)
        assert served.answered == 0  # over the app's limit: the normal way's 413
        assert fast.status_code == 413
        assert answer(fast) == answer(normal)
        assert client.get(QUIZ, headers=auth).json()["attempts_used"] == 0


PAGE = f"/courses/{COURSE}/items"
RIGHT = {"q1": "b", "q2": ["x", "z"], "q3": "true", "q4": "IGM", "q5": "7"}
# (path, form without the CSRF token, whether to send the token): from a browser's pages.
FORM_STEPS: list[tuple[str, dict[str, Any], bool]] = [
    (f"{PAGE}/leccion-1/complete", {}, True),  # 303 to the next lesson
    (f"{PAGE}/leccion-1/complete", {}, False),  # 403: no CSRF token
    (f"{PAGE}/quiz-1/complete", {}, True),  # 409: a quiz is completed by passing it
    (f"{PAGE}/leccion-1/attempts", {}, True),  # 409: a lesson
    (f"{PAGE}/no-such-quiz/attempts", {}, True),  # 404
    (f"{PAGE}/quiz-1/attempts", {"q1": "a"}, True),  # failed, with its explanation
    (f"{PAGE}/quiz-1/attempts", {"q5": "siete"}, True),  # 422: an answer it cannot read
    (f"{PAGE}/quiz-1/attempts", {"q4": "IGM\u0000"}, True),  # 422: a NUL
    (f"{PAGE}/leccion-2/complete", {}, True),
    (f"{PAGE}/leccion-3/complete", {}, True),
    (f"{PAGE}/quiz-1/attempts", RIGHT, True),  # passed: the course and its certificate
    (f"{PAGE}/quiz-1/attempts", RIGHT, True),  # the third and last attempt
    (f"{PAGE}/quiz-1/attempts", RIGHT, True),  # 409: no attempts left
]


def run_form_steps(client: TestClient, served: Any, query: str) -> tuple[list[Any], list[int]]:
    answers, fast = [], []
    for path, form, with_token in FORM_STEPS:
        token = csrf(client.get(f"/courses/{COURSE}/items/quiz-1").text) if with_token else None
        data = {**form, **({"csrf_token": token} if token else {})}
        before = served.answered
        response = client.post(path + query, data=data, follow_redirects=False)
        fast.append(served.answered - before)
        status, body, headers = comparable(response)
        # The certificate's code, the session's CSRF token and the key of the quiz's saved
        # draft answers are the learner's own.
        body = re.sub(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", "CODE", body)
        body = re.sub(r'name="csrf-token" content="[^"]*"', "CSRF", body)
        body = re.sub(r'data-draft="[^"]*"', "DRAFT", body)
        answers.append((status, body, headers))
    return answers, fast


def test_the_page_forms_answer_the_same_either_way(settings: Settings) -> None:
    client, served = counting_client(settings)
    with client:
        results = []
        for query in ("", "?via=router"):
            data = factories.register(client, full_name="Ana Learner")
            login(client, data["email"], data["password"])
            page = client.get(f"/courses/{COURSE}")
            client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(page.text)})
            answers, fast = run_form_steps(client, served, query)
            results.append(answers)
            if query:
                assert fast == [0] * len(FORM_STEPS)
            else:
                # The fast way answered the writes it could make, errors of the write
                # included (an answer it cannot read, no attempts left), and left to the
                # normal way what that refuses before its route (no CSRF token, a NUL) or
                # in it before writing (the wrong kind of item, an unknown one).
                assert fast == [1, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1]
            client.cookies.clear()
        fast_answers, normal_answers = results
        assert [a[0] for a in fast_answers] == [
            303, 403, 409, 409, 404, 200, 422, 422, 303, 303, 200, 200, 409,
        ]  # fmt: skip
        assert fast_answers[0][2]["location"] == f"/courses/{COURSE}/items/leccion-2"
        assert fast_answers == normal_answers
        assert "El IGM es la autoridad" in fast_answers[5][1]


def test_a_declined_body_reaches_the_normal_way_whole() -> None:
    """The body is read before the handler decides; when it declines, the app behind gets
    the same messages, chunk by chunk, then whatever the client sends next."""
    chunks: list[Message] = [
        {"type": "http.request", "body": b'{"answers":', "more_body": True},
        {"type": "http.request", "body": b' {"q1": "a"}', "more_body": True},
        {"type": "http.request", "body": b"}", "more_body": False},
        {"type": "http.disconnect"},
    ]
    seen: list[Message] = []
    decided: list[bytes] = []

    async def behind(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(4):
            seen.append(await receive())
        await Response(b"normal")(scope, receive, send)

    async def declines(request: Request, course: str, item: str) -> Response | None:
        decided.append(await request.body())
        return None

    async def main() -> list[Message]:
        incoming = list(chunks)
        sent: list[Message] = []

        async def receive() -> Message:
            return incoming.pop(0)

        async def send(message: Message) -> None:
            sent.append(message)

        app = LessonFastPath(behind, handler=declines, writes=((API_ATTEMPT, declines),))
        length = str(sum(len(c.get("body", b"")) for c in chunks)).encode()
        scope: Scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/courses/c/items/q/attempts",
            "query_string": b"",
            "headers": [(b"authorization", b"Bearer t"), (b"content-length", length)],
            "app": None,
        }
        await app(scope, receive, send)
        return sent

    sent = run(main())
    assert decided == [b'{"answers": {"q1": "a"}}']
    assert seen == chunks
    assert sent[1]["body"] == b"normal"
