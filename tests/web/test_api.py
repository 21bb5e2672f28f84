"""The v1 API contract: statuses, roles and what never leaks."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ecampus.accounts.models import Role
from tests import factories

COURSE = "demo-course"
QUIZ = f"/api/v1/courses/{COURSE}/items/quiz-1"
KEY = {"q1": "b", "q2": ["x", "z"], "q3": True, "q4": " igm ", "q5": 7}


def enrolled(client: TestClient) -> dict[str, str]:
    _data, auth = factories.learner(client)
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    return auth


def test_registration_errors(client: TestClient) -> None:
    data = factories.register(client)
    again = client.post("/api/v1/auth/register", json=data)
    assert again.status_code == 409
    assert again.json() == {"detail": "An account with this email exists"}
    upper = client.post("/api/v1/auth/register", json={**data, "email": data["email"].upper()})
    assert upper.status_code == 409
    for field, value in [
        ("email", "not-an-email"),
        ("password", "short"),
        ("country", "XX"),
        ("institution_type", "church"),
        ("full_name", " "),
        ("language", "de"),
    ]:
        response = client.post("/api/v1/auth/register", json=factories.profile(**{field: value}))
        assert response.status_code == 422, field
        assert response.json()["detail"][0]["loc"][-1] == field
    assert client.post("/api/v1/auth/register", content=b"{not json").status_code == 422


def test_token_errors(client: TestClient) -> None:
    data = factories.register(client)
    bad = client.post("/api/v1/auth/token", data={"username": data["email"], "password": "nope"})
    assert bad.status_code == 401
    assert client.post("/api/v1/auth/token", data={}).status_code == 422
    good = client.post(
        "/api/v1/auth/token", data={"username": data["email"], "password": data["password"]}
    )
    body = good.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0


def test_catalogue_and_outline_never_leak_answers(client: TestClient) -> None:
    courses = client.get("/api/v1/courses").json()
    assert courses == [
        {"id": COURSE, "title": "Curso de prueba", "language": "es",
         "summary": "A small course the tests rely on; sample content, not advice.",
         "hours": 2.0, "topics": ["pruebas"], "translations": []},
    ]  # fmt: skip
    outline = client.get(f"/api/v1/courses/{COURSE}").text
    assert "answer" not in outline
    assert "explanation" not in outline
    assert client.get("/api/v1/courses/nope").status_code == 404


def test_item_access_rules(client: TestClient) -> None:
    assert client.get(f"{QUIZ}").status_code == 401
    _data, outsider = factories.learner(client)
    assert client.get(QUIZ, headers=outsider).status_code == 403
    auth = enrolled(client)
    assert client.get(f"/api/v1/courses/{COURSE}/items/nope", headers=auth).status_code == 404
    quiz = client.get(QUIZ, headers=auth).json()
    assert quiz["type"] == "quiz"
    assert quiz["attempts_left"] == 3
    text = str(quiz)
    assert "explanation" not in text
    assert "'answer'" not in text
    assert "El IGM es la autoridad" not in text
    lesson = client.get(f"/api/v1/courses/{COURSE}/items/leccion-1", headers=auth).json()
    assert "<table>" in lesson["html"]
    assert "<script>" not in lesson["html"]


def test_complete_and_progress(client: TestClient) -> None:
    auth = enrolled(client)
    done = client.post(f"/api/v1/courses/{COURSE}/items/leccion-1/complete", headers=auth).json()
    assert (done["progress"], done["status"], done["next_item"]) == (25, "in_progress", "leccion-2")
    again = client.post(f"/api/v1/courses/{COURSE}/items/leccion-1/complete", headers=auth).json()
    assert again["progress"] == 25
    assert client.post(f"{QUIZ}/complete", headers=auth).status_code == 409


def test_attempts_grading_and_max_attempts(client: TestClient) -> None:
    auth = enrolled(client)
    wrong = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": {"q1": "a"}}).json()
    assert (wrong["score"], wrong["passed"], wrong["attempt"], wrong["attempts_left"]) == (
        0,
        False,
        1,
        2,
    )
    assert all("answer" not in r for r in wrong["results"])  # not revealed while attempts remain
    assert wrong["results"][0]["explanation"] == "El IGM es la autoridad migratoria."
    bad = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": {"q1": "zz"}})
    assert bad.status_code == 422
    assert client.post(f"{QUIZ}/attempts", headers=auth, json={"nope": 1}).status_code == 422
    assert client.post(f"{QUIZ}/attempts", headers=auth, content=b"[").status_code == 422
    right = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    assert (right["score"], right["passed"], right["attempt"]) == (100, True, 2)
    assert right["results"][0]["answer"] == "b"  # revealed once passed
    third = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": {}}).json()
    assert third["attempts_left"] == 0
    assert third["progress"]["score"] == 100  # the best attempt counts
    refused = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY})
    assert refused.status_code == 409
    assert refused.json() == {"detail": "No attempts left for this quiz"}


def test_completion_issues_certificate_and_programme_diploma(client: TestClient) -> None:
    auth = enrolled(client)
    for lesson in ("leccion-1", "leccion-2", "leccion-3"):
        client.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
    result = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    assert result["progress"]["status"] == "completed"
    code = result["progress"]["certificate"]
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    mine = client.get("/api/v1/me/certificates", headers=auth).json()
    assert {(c["kind"], c["subject_id"]) for c in mine} == {
        ("course", COURSE),
        ("programme", "demo-programme"),
    }
    diploma = next(c for c in mine if c["kind"] == "programme")
    assert diploma["hours"] == 10
    # Codes are forgiving when typed: lower case, O for 0, no dashes.
    typed = code.lower().replace("-", "").replace("0", "o")
    assert client.get(f"/api/v1/certificates/{typed}").json()["valid"] is True
    assert client.get("/api/v1/certificates/NOPE-NOPE-NOPE").status_code == 404

    learner_tries = client.post(
        f"/api/v1/certificates/{code}/revoke", headers=auth, json={"reason": "x" * 5}
    )
    assert learner_tries.status_code == 403
    coordinator = factories.staff(client, Role.coordinator)
    revoked = client.post(
        f"/api/v1/certificates/{code}/revoke",
        headers=coordinator,
        json={"reason": "issued in error"},
    ).json()
    assert (revoked["valid"], revoked["revoked"]) == (False, True)
    assert (
        "revocado" in client.get(f"/verify/{code}", headers={"accept-language": "es"}).text.lower()
    )
    reissued = client.post(f"/api/v1/certificates/{code}/reissue", headers=coordinator).json()
    assert reissued["valid"] is True
    assert reissued["code"] != code


def test_roles_guard_reports_and_admin(client: TestClient) -> None:
    _data, learner = factories.learner(client)
    assert client.get("/api/v1/reports/completions").status_code == 401
    assert client.get("/api/v1/reports/completions", headers=learner).status_code == 403
    assert client.get("/api/v1/users", headers=learner).status_code == 403
    coordinator = factories.staff(client, Role.coordinator)
    assert client.get("/api/v1/users", headers=coordinator).status_code == 403
    admin = factories.staff(client, Role.admin)
    assert client.get("/api/v1/reports/completions", headers=admin).status_code == 200
    users = client.get("/api/v1/users", headers=admin).json()
    target = next(u for u in users if u["role"] == "learner")
    changed = client.put(
        f"/api/v1/users/{target['email']}/role", headers=admin, json={"role": "author"}
    )
    assert changed.json()["role"] == "author"
    assert (
        client.put("/api/v1/users/x@y.org/role", headers=admin, json={"role": "author"}).status_code
        == 404
    )
    assert (
        client.put(
            f"/api/v1/users/{target['email']}/role", headers=admin, json={"role": "god"}
        ).status_code
        == 422
    )


def test_drafts_are_for_authors(client: TestClient, courses_dir) -> None:  # type: ignore[no-untyped-def]
    yaml = courses_dir / "demo-course" / "course.yaml"
    yaml.write_text(yaml.read_text().replace("pass_mark: 70", "pass_mark: 70\npublished: false"))
    client.app.state.catalogue.load()  # type: ignore[attr-defined]
    assert client.get("/api/v1/courses").json() == []
    assert client.get(f"/api/v1/courses/{COURSE}").status_code == 404
    author = factories.staff(client, Role.author)
    assert client.get(f"/api/v1/courses/{COURSE}", headers=author).status_code == 200


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/courses/{course_id}/items/{item_id}/attempts" in spec["paths"]


def test_learner_activity_never_undoes_a_revocation(client: TestClient) -> None:
    auth = enrolled(client)
    for lesson in ("leccion-1", "leccion-2", "leccion-3"):
        client.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
    code = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()["progress"][
        "certificate"
    ]
    coordinator = factories.staff(client, Role.coordinator)
    client.post(
        f"/api/v1/certificates/{code}/revoke", headers=coordinator, json={"reason": "fraud"}
    )
    again = client.post(f"/api/v1/courses/{COURSE}/items/leccion-1/complete", headers=auth).json()
    assert again["certificate"] is None
    assert [
        c["revoked"]
        for c in client.get("/api/v1/me/certificates", headers=auth).json()
        if c["kind"] == "course"
    ] == [True]
    progress = client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).json()
    assert progress["status"] == "completed"
    assert progress["certificate"] is None
    unknown = client.get("/api/v1/certificates/AAAA-BBBB-CCCC")
    assert unknown.status_code == 404
    assert unknown.json()["valid"] is False


def test_timestamps_are_utc_aware(client: TestClient) -> None:
    auth = enrolled(client)
    mine = client.get("/api/v1/me/courses", headers=auth).json()
    assert mine[0]["enrolled_at"].endswith("+00:00")


def test_course_media_is_served_and_sources_are_not(client: TestClient) -> None:
    auth = enrolled(client)
    html = client.get(f"/api/v1/courses/{COURSE}/items/leccion-3", headers=auth).json()["html"]
    assert f'src="/courses/{COURSE}/media/img/mapa.png"' in html
    assert 'loading="lazy"' in html
    assert 'width="4" height="3"' in html  # sized, so the page does not jump
    image = client.get(f"/courses/{COURSE}/media/img/mapa.png")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    for path in ("course.yaml", "lessons/segunda.md", "../demo-course/course.yaml", "img/nope.png",
                 "%2e%2e/%2e%2e/etc/passwd"):  # fmt: skip
        assert client.get(f"/courses/{COURSE}/media/{path}").status_code == 404, path


def test_schema_is_served(client: TestClient) -> None:
    schema = client.get("/schema/course.json").json()
    assert schema["title"] == "ecampus course (v1)"
    assert "translations" in schema["properties"]
    assert client.get("/schema/programme.json").json()["title"] == "ecampus programme (v1)"


def test_only_one_valid_certificate_per_course(client: TestClient) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session

    from ecampus.certificates.models import Certificate

    auth = enrolled(client)
    for lesson in ("leccion-1", "leccion-2", "leccion-3"):
        client.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
    client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY})
    user_id = client.get("/api/v1/me", headers=auth).json()["id"]
    second = Certificate(code="ZZZZ-ZZZZ-ZZZZ", user_id=user_id, kind="course",
                         subject_id=COURSE, learner_name="x", title="x", hours=1)  # fmt: skip
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.add(second)
        with pytest.raises(IntegrityError):
            session.commit()
