"""Corrections over the API: withdraw and move enrolments, rename and close cohorts, grant
extra attempts, fix names and emails; who may, what they answer, and the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from ecampus.accounts.models import Role, User
from ecampus.app import create_app
from ecampus.audit.models import AuditEntry
from ecampus.certificates.models import Certificate
from ecampus.learning import cohorts
from ecampus.learning.models import Enrollment
from tests import factories
from tests.conftest import make_settings

COURSE = "demo-course"
QUIZ = f"/api/v1/courses/{COURSE}/items/quiz-1"


def audit(client: TestClient, action: str) -> list[AuditEntry]:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        return list(
            session.exec(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )  # type: ignore[arg-type]
        )


def enrolment(client: TestClient, email: str) -> Enrollment:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        row = session.exec(
            select(Enrollment).join(User, User.id == Enrollment.user_id).where(User.email == email)  # type: ignore[arg-type]
        ).first()
        assert row is not None
        return row


def cohort(client: TestClient, coordinator: dict[str, str], code: str, *emails: str) -> None:
    created = client.post(
        "/api/v1/cohorts", headers=coordinator, json={"code": code, "name": f"Cohorte {code}"}
    )
    assert created.status_code == 201, created.text
    if emails:
        enrolled = client.post(
            f"/api/v1/cohorts/{code}/enrollments",
            headers=coordinator,
            json={"course": COURSE, "emails": list(emails)},
        )
        assert enrolled.status_code == 200, enrolled.text


def fail_every_attempt(client: TestClient, auth: dict[str, str]) -> None:
    wrong = factories.wrong_answers(client, COURSE, "quiz-1")
    for _ in range(3):
        assert (
            client.post(f"{QUIZ}/attempts", json={"answers": wrong}, headers=auth).status_code
            == 200
        )
    assert client.post(f"{QUIZ}/attempts", json={"answers": wrong}, headers=auth).status_code == 409


def test_withdrawn_enrolment_is_kept_but_leaves_the_learners_courses(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    data, auth = factories.learner(client)
    email = data["email"]
    cohort(client, coordinator, "c1", email)
    client.post(f"/api/v1/courses/{COURSE}/items/leccion-1/complete", headers=auth)
    path = f"/api/v1/courses/{COURSE}/enrollments/{email}"

    withdrawn = client.delete(path, headers=coordinator)
    assert withdrawn.status_code == 204
    assert client.delete(path, headers=coordinator).status_code == 204  # idempotent
    assert len(audit(client, "enrolment.withdraw")) == 1
    entry = audit(client, "enrolment.withdraw")[0]
    assert entry.subject == email
    assert entry.detail["course"] == COURSE
    assert entry.detail["cohort"] == "c1"
    row = enrolment(client, email)
    assert row.withdrawn_at is not None
    assert row.withdrawn_by_id is not None
    assert row.progress > 0  # the record stays

    # Gone from the learner's courses; the cohort no longer counts it.
    assert client.get("/api/v1/me/courses", headers=auth).json() == []
    assert client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).status_code == 403
    assert (
        client.post(f"/api/v1/courses/{COURSE}/items/leccion-2/complete", headers=auth).status_code
        == 403
    )
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        (summary,) = cohorts.summaries(session)
    assert summary["enrolments"] == 0

    # Enrolling again restores it with its progress.
    again = client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    assert again.status_code == 200
    assert again.json()["progress"] > 0
    assert [c["course_id"] for c in client.get("/api/v1/me/courses", headers=auth).json()] == [
        COURSE
    ]
    assert enrolment(client, email).withdrawn_at is None


def test_withdraw_answers_404_for_what_does_not_exist(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    data, _auth = factories.learner(client)
    email = data["email"]
    unknown_course = client.delete(f"/api/v1/courses/nope/enrollments/{email}", headers=coordinator)
    assert unknown_course.status_code == 404
    assert "Course" in unknown_course.json()["detail"]
    unknown_email = client.delete(
        f"/api/v1/courses/{COURSE}/enrollments/nadie@example.org", headers=coordinator
    )
    assert unknown_email.status_code == 404
    assert unknown_email.json()["detail"] == "No account has this email"
    not_enrolled = client.delete(
        f"/api/v1/courses/{COURSE}/enrollments/{email}", headers=coordinator
    )
    assert not_enrolled.status_code == 404
    assert not_enrolled.json()["detail"] == "This account is not enrolled in this course"


def test_learners_may_not_correct_anything(client: TestClient) -> None:
    data, auth = factories.learner(client)
    other, _ = factories.learner(client)
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    email = data["email"]
    calls = [
        ("DELETE", f"/api/v1/courses/{COURSE}/enrollments/{email}", None),
        ("PUT", f"/api/v1/courses/{COURSE}/enrollments/{email}", {"cohort": None}),
        ("PATCH", "/api/v1/cohorts/c1", {"name": "Otro nombre"}),
        ("POST", f"{QUIZ}/extra-attempts", {"email": email, "count": 1}),
        ("PATCH", f"/api/v1/users/{other['email']}", {"full_name": "Otra Persona"}),
    ]
    for method, path, body in calls:
        assert client.request(method, path, json=body, headers=auth).status_code == 403, path
        assert client.request(method, path, json=body).status_code == 401, path
    assert audit(client, "user.update") == []


def test_move_between_cohorts_and_closed_cohorts(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    data, _auth = factories.learner(client)
    late, _ = factories.learner(client)
    email = data["email"]
    cohort(client, coordinator, "a", email)
    cohort(client, coordinator, "b")
    path = f"/api/v1/courses/{COURSE}/enrollments/{email}"

    moved = client.put(path, headers=coordinator, json={"cohort": "b"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["cohort"] == "b"
    assert client.put(path, headers=coordinator, json={"cohort": "b"}).status_code == 200
    (entry,) = audit(client, "enrolment.move")
    assert entry.detail == {"course": COURSE, "from": "a", "to": "b"}
    assert client.put(path, headers=coordinator, json={"cohort": "zz"}).status_code == 404
    assert client.put(path, headers=coordinator, json={}).status_code == 422

    # Close "a": it keeps its records, refuses new members (a move in or an enrolment).
    closed = client.patch("/api/v1/cohorts/a", headers=coordinator, json={"closed": True})
    assert closed.status_code == 200
    assert closed.json()["closed_at"]
    listed = {c["code"]: c for c in client.get("/api/v1/cohorts", headers=coordinator).json()}
    assert listed["a"]["closed_at"] == closed.json()["closed_at"]
    assert listed["b"]["closed_at"] is None
    refused = client.put(path, headers=coordinator, json={"cohort": "a"})
    assert refused.status_code == 409
    assert "closed" in refused.json()["detail"]
    enrol = client.post(
        "/api/v1/cohorts/a/enrollments",
        headers=coordinator,
        json={"course": COURSE, "emails": [late["email"]]},
    )
    assert enrol.status_code == 409
    # Reopened, it takes members again.
    assert (
        client.patch("/api/v1/cohorts/a", headers=coordinator, json={"closed": False}).json()[
            "closed_at"
        ]
        is None
    )
    assert client.put(path, headers=coordinator, json={"cohort": "a"}).status_code == 200
    assert [e.action for e in audit(client, "cohort.close")] == ["cohort.close"]
    assert [e.action for e in audit(client, "cohort.reopen")] == ["cohort.reopen"]


def test_rename_a_cohort(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    cohort(client, coordinator, "dip-2026")
    renamed = client.patch(
        "/api/v1/cohorts/dip-2026",
        headers=coordinator,
        json={"name": "  Diplomado 2026 — grupo A "},
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Diplomado 2026 — grupo A"
    assert [c["name"] for c in client.get("/api/v1/cohorts", headers=coordinator).json()] == [
        "Diplomado 2026 — grupo A"
    ]
    (entry,) = audit(client, "cohort.rename")
    assert entry.detail == {"from": "Cohorte dip-2026", "to": "Diplomado 2026 — grupo A"}
    for bad in ("x", "\u200b\u200b", "a\nb", "n" * 201):
        assert (
            client.patch(
                "/api/v1/cohorts/dip-2026", headers=coordinator, json={"name": bad}
            ).status_code
            == 422
        )
    assert (
        client.patch("/api/v1/cohorts/none", headers=coordinator, json={"name": "Otro"}).status_code
        == 404
    )


def test_extra_attempts_let_a_blocked_learner_submit_again(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    data, auth = factories.learner(client)
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    fail_every_attempt(client, auth)
    assert client.get("/api/v1/me/courses", headers=auth).json()[0]["blocked_item"] == "quiz-1"

    granted = client.post(
        f"{QUIZ}/extra-attempts", headers=coordinator, json={"email": data["email"], "count": 2}
    )
    assert granted.status_code == 200, granted.text
    assert granted.json() == {"attempts_left": 2}
    item = client.get(QUIZ, headers=auth).json()
    assert (item["attempts_used"], item["attempts_granted"], item["attempts_left"]) == (3, 2, 2)
    assert client.get("/api/v1/me/courses", headers=auth).json()[0]["blocked_item"] is None

    wrong = factories.wrong_answers(client, COURSE, "quiz-1")
    fourth = client.post(f"{QUIZ}/attempts", json={"answers": wrong}, headers=auth)
    assert fourth.status_code == 200
    assert fourth.json()["attempt"] == 4
    assert fourth.json()["attempts_left"] == 1
    right = factories.answer_key(client, COURSE, "quiz-1")
    fifth = client.post(f"{QUIZ}/attempts", json={"answers": right}, headers=auth)
    assert fifth.json()["passed"]
    assert fifth.json()["attempts_left"] == 0
    assert client.post(f"{QUIZ}/attempts", json={"answers": right}, headers=auth).status_code == 409
    (entry,) = audit(client, "quiz.extra_attempts")
    assert entry.subject == data["email"]
    assert entry.detail == {"course": COURSE, "item": "quiz-1", "count": 2, "attempts_left": 2}


def test_extra_attempts_refusals(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    data, auth = factories.learner(client)
    stranger, _ = factories.learner(client)
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    email = data["email"]

    def grant(path: str = QUIZ, **body: Any) -> Any:
        return client.post(
            f"{path}/extra-attempts", headers=coordinator, json={"email": email, "count": 1, **body}
        )

    assert grant(count=0).status_code == 422
    assert grant(count=21).status_code == 422
    assert grant(email="no-es-un-correo").status_code == 422
    assert grant(f"/api/v1/courses/{COURSE}/items/nope").status_code == 404
    assert grant(f"/api/v1/courses/{COURSE}/items/leccion-1").status_code == 409
    assert grant("/api/v1/courses/nope/items/quiz-1").status_code == 404
    assert grant(email=stranger["email"]).status_code == 404
    assert grant(email="nadie@example.org").status_code == 404
    client.delete(f"/api/v1/courses/{COURSE}/enrollments/{email}", headers=coordinator)
    withdrawn = grant()
    assert withdrawn.status_code == 409
    assert "withdrawn" in withdrawn.json()["detail"]
    assert audit(client, "quiz.extra_attempts") == []


def test_quiz_without_a_limit_takes_no_grant(database_url: str, courses_dir: Path) -> None:
    course_file = courses_dir / "demo-course" / "course.yaml"
    course_file.write_text(
        course_file.read_text(encoding="utf-8").replace("        max_attempts: 3\n", ""),
        encoding="utf-8",
    )
    with TestClient(create_app(make_settings(database_url, courses_dir))) as client:
        coordinator = factories.staff(client, Role.coordinator)
        data, auth = factories.learner(client)
        client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
        refused = client.post(
            f"{QUIZ}/extra-attempts", headers=coordinator, json={"email": data["email"], "count": 1}
        )
        assert refused.status_code == 409
        assert refused.json()["detail"] == "This quiz allows unlimited attempts"


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return factories.staff(client, Role.admin)


def test_fix_a_learners_name_and_email(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    data, auth = factories.learner(client, email="ana@gmial.com", full_name="Ana Garcia")
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    # A certificate issued before the correction keeps the name printed on it.
    for lesson in ("leccion-1", "leccion-2", "leccion-3"):
        client.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
    client.post(
        f"{QUIZ}/attempts",
        json={"answers": factories.answer_key(client, COURSE, "quiz-1")},
        headers=auth,
    )

    fixed = client.patch(
        "/api/v1/users/Ana@Gmial.com",
        headers=coordinator,
        json={"full_name": "Ana García", "email": "Ana@Gmail.com"},
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json() == {
        "email": "ana@gmail.com",
        "full_name": "Ana García",
        "role": "learner",
        "changed": ["email", "full_name"],
    }
    (entry,) = audit(client, "user.update")
    assert entry.subject == "ana@gmial.com"
    assert entry.detail["email"] == {"from": "ana@gmial.com", "to": "ana@gmail.com"}
    assert entry.detail["full_name"] == {"from": "Ana Garcia", "to": "Ana García"}
    assert entry.detail["sessions_ended"] is True

    # The email changed: the old session is over; the new email and same password sign in.
    assert client.get("/api/v1/me", headers=auth).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/token", data={"username": "ana@gmial.com", "password": data["password"]}
        ).status_code
        == 401
    )
    fresh = factories.token(client, "ana@gmail.com", data["password"])
    assert client.get("/api/v1/me", headers=fresh).json()["full_name"] == "Ana García"
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        issued = session.exec(select(Certificate)).all()
    assert issued  # the course certificate (and the programme's diploma)
    assert {c.learner_name for c in issued} == {"Ana Garcia"}

    # A name-only correction keeps the sessions.
    assert (
        client.patch(
            "/api/v1/users/ana@gmail.com",
            headers=coordinator,
            json={"full_name": "Ana María García"},
        ).status_code
        == 200
    )
    assert client.get("/api/v1/me", headers=fresh).status_code == 200
    # Nothing to change: no audit entry.
    same = client.patch(
        "/api/v1/users/ana@gmail.com", headers=coordinator, json={"full_name": "Ana María García"}
    )
    assert same.json()["changed"] == []
    assert len(audit(client, "user.update")) == 2


def test_user_correction_refusals(client: TestClient, admin: dict[str, str]) -> None:
    coordinator = factories.staff(client, Role.coordinator, email="coord@example.org")
    factories.staff(client, Role.author, email="autora@example.org")
    first, _ = factories.learner(client)
    second, _ = factories.learner(client)
    path = f"/api/v1/users/{first['email']}"
    taken = client.patch(path, headers=coordinator, json={"email": second["email"].upper()})
    assert taken.status_code == 409
    for body in (
        {"full_name": "\u200b"},
        {"full_name": "x"},
        {"email": "no-es-correo"},
        {"full_name": "A\u202eB"},
        {"role": "admin"},
    ):
        assert client.patch(path, headers=coordinator, json=body).status_code == 422, body
    assert (
        client.patch(
            "/api/v1/users/nadie@example.org",
            headers=coordinator,
            json={"full_name": "Nadie Nadie"},
        ).status_code
        == 404
    )
    # Coordinators correct learners only; admins, anyone.
    staff_edit = client.patch(
        "/api/v1/users/autora@example.org", headers=coordinator, json={"full_name": "Autora Uno"}
    )
    assert staff_edit.status_code == 403
    assert (
        client.patch(
            "/api/v1/users/coord@example.org", headers=coordinator, json={"full_name": "Yo Mismo"}
        ).status_code
        == 403
    )
    assert (
        client.patch(
            "/api/v1/users/autora@example.org", headers=admin, json={"full_name": "Autora Uno"}
        ).status_code
        == 200
    )
    assert (
        client.patch(
            "/api/v1/users/coord@example.org",
            headers=admin,
            json={"email": "coordinacion@example.org"},
        ).status_code
        == 200
    )
    entries = audit(client, "user.update")
    assert len(entries) == 2
    assert entries[0].actor == entries[1].actor != "coord@example.org"


def test_restore_a_withdrawn_enrolment(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    data, auth = factories.learner(client)
    email = data["email"]
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    client.post(f"/api/v1/courses/{COURSE}/items/leccion-1/complete", headers=auth)
    path = f"/api/v1/courses/{COURSE}/enrollments/{email}"
    client.delete(path, headers=coordinator)
    restored = client.post(f"{path}/restore", headers=coordinator)
    assert restored.status_code == 200, restored.text
    assert restored.json()["withdrawn_at"] is None
    assert client.post(f"{path}/restore", headers=coordinator).status_code == 200  # idempotent
    assert [c["progress"] for c in client.get("/api/v1/me/courses", headers=auth).json()] == [25]
    assert [e.detail["course"] for e in audit(client, "enrolment.restore")] == [COURSE]
    assert client.post(f"{path}/restore", headers=auth).status_code == 403
    missing = f"/api/v1/courses/{COURSE}/enrollments/nadie@example.org/restore"
    assert client.post(missing, headers=coordinator).status_code == 404
