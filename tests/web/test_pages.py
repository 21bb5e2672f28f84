"""The HTML journey with plain forms (no JavaScript), CSRF and friendly errors."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests import factories

COURSE = "demo-course"


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def login(client: TestClient, email: str, password: str) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf(page.text), "next": "/me"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/me"


def test_register_form_and_errors(client: TestClient) -> None:
    page = client.get("/register")
    token = csrf(page.text)
    bad = client.post("/register", data={"email": "nope", "password": "x", "full_name": "A",
                                         "country": "ZZ", "csrf_token": token})  # fmt: skip
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    assert 'value="nope"' in bad.text  # what the learner typed is kept
    data = factories.profile()
    good = client.post("/register", data={**data, "csrf_token": token}, follow_redirects=False)
    assert good.status_code == 303
    assert "ecampus_session" in good.headers["set-cookie"]
    assert "HttpOnly" in good.headers["set-cookie"]


def test_forms_without_csrf_token_are_refused(client: TestClient) -> None:
    data = factories.register(client)
    refused = client.post("/login", data={"email": data["email"], "password": data["password"]})
    assert refused.status_code == 403
    login(client, data["email"], data["password"])
    # Logged in by cookie: posts need the token, and API calls need the header.
    assert client.post(f"/courses/{COURSE}/enroll", data={}).status_code == 403
    assert client.post(f"/api/v1/courses/{COURSE}/enroll").status_code == 403
    token = csrf(client.get(f"/courses/{COURSE}").text)
    ok = client.post(f"/api/v1/courses/{COURSE}/enroll", headers={"X-CSRF-Token": token})
    assert ok.status_code == 200


def test_learner_journey_with_forms(client: TestClient) -> None:
    data = factories.register(client, full_name="José Ramírez Núñez")
    login(client, data["email"], data["password"])
    assert client.get("/", headers={"accept-language": "es"}).status_code == 200
    course = client.get(f"/courses/{COURSE}")
    enrol = client.post(
        f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(course.text)}, follow_redirects=False
    )
    assert enrol.headers["location"] == f"/courses/{COURSE}/items/leccion-1"
    lesson = client.get(enrol.headers["location"])
    assert "<table>" in lesson.text
    assert 'lang="es"' in lesson.text
    for item, following in (("leccion-1", "leccion-2"), ("leccion-2", "quiz-1")):
        page = client.get(f"/courses/{COURSE}/items/{item}")
        moved = client.post(f"/courses/{COURSE}/items/{item}/complete",
                            data={"csrf_token": csrf(page.text)}, follow_redirects=False)  # fmt: skip
        assert moved.headers["location"] == f"/courses/{COURSE}/items/{following}"
    quiz = client.get(f"/courses/{COURSE}/items/quiz-1")
    assert "El IGM es la autoridad" not in quiz.text  # no explanation before submitting
    assert 'name="q4"' in quiz.text
    failed = client.post(f"/courses/{COURSE}/items/quiz-1/attempts",
                         data={"csrf_token": csrf(quiz.text), "q1": "a"})  # fmt: skip
    assert failed.status_code == 200
    assert "El IGM es la autoridad" in failed.text
    answers = {"q1": "b", "q2": ["x", "z"], "q3": "true", "q4": "IGM", "q5": "7"}
    passed = client.post(f"/courses/{COURSE}/items/quiz-1/attempts",
                         data={"csrf_token": csrf(quiz.text), **answers})  # fmt: skip
    assert passed.status_code == 200
    assert "100" in passed.text
    malformed = client.post(f"/courses/{COURSE}/items/quiz-1/attempts",
                            data={"csrf_token": csrf(quiz.text), "q5": "siete"})  # fmt: skip
    assert malformed.status_code == 422
    last = client.get(f"/courses/{COURSE}/items/leccion-3")
    done = client.post(f"/courses/{COURSE}/items/leccion-3/complete",
                       data={"csrf_token": csrf(last.text)}, follow_redirects=False)  # fmt: skip
    assert done.headers["location"] == f"/courses/{COURSE}"
    summary = client.get(f"/courses/{COURSE}").text
    code = re.search(r"/certificates/([0-9A-Z-]{14})\.pdf", summary)
    assert code, "the completed course page links the certificate"
    my = client.get("/me").text
    assert code.group(1) in my
    assert client.get(f"/certificates/{code.group(1)}.pdf").content.startswith(b"%PDF")


def test_pages_need_login_and_errors_are_friendly(client: TestClient) -> None:
    redirect = client.get(f"/courses/{COURSE}/items/leccion-1", follow_redirects=False)
    assert redirect.status_code == 303
    assert redirect.headers["location"] == f"/login?next=/courses/{COURSE}/items/leccion-1"
    missing = client.get("/courses/nope", headers={"accept-language": "en"})
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    assert "Traceback" not in missing.text
    spanish = client.get("/courses/nope", headers={"accept-language": "es-GT,es;q=0.9"})
    assert '<html lang="es">' in spanish.text
    assert client.get("/verify/NOPE").status_code == 404
    assert client.get("/certificates/NOPE.pdf").json() == {"detail": "No certificate has this code"}
    assert client.get("/coordinator", follow_redirects=False).status_code == 303


def test_language_switch(client: TestClient) -> None:
    english = client.get("/lang/en?next=/", follow_redirects=True)
    assert '<html lang="en">' in english.text
    spanish = client.get("/lang/es?next=https://evil.example/", follow_redirects=False)
    assert spanish.headers["location"] == "/"


def test_unknown_pages_are_html_and_api_paths_json(client: TestClient) -> None:
    page = client.get("/no/such/page", headers={"accept-language": "en"})
    assert page.status_code == 404
    assert "Page not found" in page.text
    assert client.get("/api/v1/nothing").json() == {"detail": "Not Found"}


def test_catalogue_shows_each_course_once_in_the_learners_language(
    bundled_client: TestClient,
) -> None:
    spanish = bundled_client.get("/", headers={"accept-language": "es"}).text
    english = bundled_client.get("/", headers={"accept-language": "en"}).text

    def card(course: str) -> str:
        language = "en" if course == "labour-migration-basics" else "es"
        return f'<h2 lang="{language}"><a href="/courses/{course}">'

    assert card("migracion-laboral") in spanish
    assert card("labour-migration-basics") not in spanish
    assert 'href="/courses/labour-migration-basics" lang="en"' in spanish  # offered beside it
    assert card("labour-migration-basics") in english
    assert card("migracion-laboral") not in english
    only_english = bundled_client.get("/?language=en", headers={"accept-language": "es"}).text
    assert card("labour-migration-basics") in only_english


def test_coordinator_manages_cohorts_and_certificates_in_the_browser(client: TestClient) -> None:
    from ecampus.accounts.models import Role

    learner = factories.register(client)
    with_account = learner["email"]
    coordinator = factories.profile()
    factories.staff(client, Role.coordinator, **coordinator)
    login(client, coordinator["email"], coordinator["password"])
    page = client.get("/coordinator/cohorts")
    assert page.status_code == 200
    token = csrf(page.text)
    created = client.post("/coordinator/cohorts", data={"csrf_token": token, "action": "create",
                                                        "code": "gt-2026", "name": "Guatemala 2026"})  # fmt: skip
    assert created.status_code == 200
    assert "gt-2026" in created.text
    duplicate = client.post("/coordinator/cohorts", data={"csrf_token": token, "action": "create",
                                                          "code": "gt-2026", "name": "Otra"})  # fmt: skip
    assert duplicate.status_code == 409
    enrolled = client.post("/coordinator/cohorts", data={
        "csrf_token": token, "action": "enrol", "cohort": "gt-2026", "course": COURSE,
        "emails": f"{with_account}\nnobody@example.org"})  # fmt: skip
    assert enrolled.status_code == 200
    assert "nobody@example.org" in enrolled.text
    report = client.get("/coordinator?cohort=gt-2026")
    assert with_account in report.text
    missing = client.get("/coordinator/certificates?code=AAAA-BBBB-CCCC")
    assert missing.status_code == 404
    bad = client.post("/coordinator/certificates", data={"csrf_token": token, "action": "revoke",
                                                         "code": "AAAA-BBBB-CCCC", "reason": "x"})  # fmt: skip
    assert bad.status_code == 422
    client.cookies.clear()
    login(client, learner["email"], learner["password"])
    assert client.get("/coordinator/cohorts").status_code == 403
    assert client.get("/coordinator/certificates").status_code == 403


def test_catalogue_counts_courses_once(bundled_client: TestClient) -> None:
    page = bundled_client.get("/", headers={"accept-language": "en"}).text
    assert "4 courses" in page  # five course folders, two of them translations of each other
    assert "Show all" not in page


def test_route_messages_follow_the_page_language(client: TestClient) -> None:
    data = factories.register(client)
    client.cookies.set("ecampus_lang", "en")
    page = client.get("/register")
    taken = client.post("/register", data={**data, "csrf_token": csrf(page.text)})
    assert taken.status_code == 409
    assert "An account with this email already exists." in taken.text
    client.cookies.set("ecampus_lang", "es")
    page = client.get("/register")
    taken = client.post("/register", data={**data, "csrf_token": csrf(page.text)})
    assert "Ya existe una cuenta con este correo electrónico." in taken.text


def test_cached_lesson_pages_carry_each_learners_own_token_and_progress(client: TestClient) -> None:
    tokens = []
    for _ in range(2):
        client.cookies.clear()
        data = factories.register(client)
        login(client, data["email"], data["password"])
        course = client.get(f"/courses/{COURSE}")
        client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(course.text)})
        page = client.get(f"/courses/{COURSE}/items/leccion-1")
        assert "csrf-slot" not in page.text
        tokens.append(csrf(page.text))
        assert tokens[-1] == csrf(client.get("/me").text)  # the token of this session
        done = client.post(
            f"/courses/{COURSE}/items/leccion-1/complete", data={"csrf_token": tokens[-1]}
        )
        assert done.status_code == 200
        after = client.get(f"/courses/{COURSE}/items/leccion-1").text
        assert "/complete" not in after  # marked done: the cached page for this progress
    assert tokens[0] != tokens[1]
