"""The API and the pages answer alike about the item a request names (ecampus.web.items):
404 for an item the course does not have, 409 for the wrong kind (completing a quiz, an
attempt at a lesson), and for a learner not enrolled 403 on the API, the course page on the
pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests import factories

COURSE = "demo-course"
API = f"/api/v1/courses/{COURSE}/items"
PAGES = f"/courses/{COURSE}/items"


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def test_api_item_answers(client: TestClient) -> None:
    _data, auth = factories.learner(client)
    for method, path, body in (
        ("GET", f"{API}/leccion-1", None),
        ("POST", f"{API}/leccion-1/complete", None),
        ("POST", f"{API}/quiz-1/attempts", {"answers": {"q1": "b"}}),
    ):
        refused = client.request(method, path, headers=auth, json=body)
        assert refused.status_code == 403, path
        assert refused.json() == {"detail": "Enrol in this course first"}
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200

    quiz = client.post(f"{API}/quiz-1/complete", headers=auth)
    assert quiz.status_code == 409
    assert quiz.json() == {"detail": "A quiz is completed by passing it: POST an attempt"}
    lesson = client.post(f"{API}/leccion-1/attempts", headers=auth, json={"answers": {}})
    assert lesson.status_code == 409
    assert lesson.json() == {"detail": "This item is a lesson, not a quiz"}
    for method, path in (
        ("GET", f"{API}/nope"),
        ("POST", f"{API}/nope/complete"),
        ("POST", f"{API}/nope/attempts"),
    ):
        missing = client.request(method, path, headers=auth, json={"answers": {}})
        assert missing.status_code == 404, path
        assert missing.json() == {"detail": "Item 'nope' not found in this course"}
    # Nothing was recorded by the refused requests.
    progress = client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).json()
    assert (progress["progress"], progress["done"]) == (0, [])


def test_page_item_answers(client: TestClient) -> None:
    data = factories.register(client)  # reads Spanish
    login = client.get("/login")
    signed_in = client.post(
        "/login",
        data={"email": data["email"], "password": data["password"], "csrf_token": csrf(login.text)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    token = csrf(client.get(f"/courses/{COURSE}").text)
    form = {"csrf_token": token}

    # Not enrolled: every item page and form leads to the course page, to enrol.
    for method, path in (
        ("GET", f"{PAGES}/leccion-1"),
        ("POST", f"{PAGES}/leccion-1/complete"),
        ("POST", f"{PAGES}/quiz-1/attempts"),
    ):
        sent = client.request(method, path, data=form, follow_redirects=False)
        assert sent.status_code == 303, path
        assert sent.headers["location"] == f"/courses/{COURSE}"
    enrolled = client.post(f"/courses/{COURSE}/enroll", data=form, follow_redirects=False)
    assert enrolled.status_code == 303

    quiz = client.post(f"{PAGES}/quiz-1/complete", data=form)
    assert quiz.status_code == 409
    assert "Esto es un cuestionario: se completa aprobándolo." in quiz.text
    lesson = client.post(f"{PAGES}/leccion-1/attempts", data=form)
    assert lesson.status_code == 409
    assert "Esto es una lección, no un cuestionario." in lesson.text
    for method, path in (
        ("GET", f"{PAGES}/nope"),
        ("POST", f"{PAGES}/nope/complete"),
        ("POST", f"{PAGES}/nope/attempts"),
    ):
        missing = client.request(method, path, data=form)
        assert missing.status_code == 404, path
        assert "text/html" in missing.headers["content-type"]
    # Nothing was recorded by the refused requests (the session cookie reads the API too).
    progress = client.get(f"/api/v1/courses/{COURSE}/progress").json()
    assert (progress["progress"], progress["done"]) == (0, [])
