"""Corrections in the browser, without JavaScript: each goes through a confirmation page
that shows what will change, then lands back with a banner in the reader's language."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from ecampus.accounts.models import Role
from ecampus.audit.models import AuditEntry
from tests import factories
from tests.web.test_pages import csrf, login

COURSE = "demo-course"


CORRECTIONS = {
    "enrolment.withdraw",
    "enrolment.move",
    "enrolment.restore",
    "cohort.rename",
    "cohort.close",
    "cohort.reopen",
    "quiz.extra_attempts",
    "user.update",
}


def actions(client: TestClient) -> list[str]:
    """The corrections in the audit log, oldest first (other staff actions left out)."""
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        entries = session.exec(select(AuditEntry).order_by(AuditEntry.id))  # type: ignore[arg-type]
        return [e.action for e in entries if e.action in CORRECTIONS]


def coordinator(client: TestClient, **overrides: str) -> dict[str, str]:
    data = factories.profile(**overrides)
    factories.staff(client, Role.coordinator, email=data["email"], password=data["password"])
    login(client, data["email"], data["password"])
    return data


def hidden_fields(html: str) -> dict[str, str]:
    form = html.split('class="actions"')[0].rsplit("<form", 1)[1] + html.split('class="actions"')[1]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def speak(client: TestClient, language: str) -> None:
    """Read the pages in this language, chosen as a reader does (the language link sets a
    cookie that outranks the account's language)."""
    assert client.get(f"/lang/{language}", follow_redirects=False).status_code == 303


def confirm(client: TestClient, page: str) -> str:
    """Post the confirmation form of a confirmation page; returns where it sent us."""
    action = re.search(r'<form method="post" action="([^"]+)" class="actions">', page)
    assert action, page
    fields = hidden_fields(page)
    assert fields["confirm"] == "true"
    done = client.post(action.group(1), data=fields, follow_redirects=False)
    assert done.status_code == 303, done.text
    return done.headers["location"]


def test_withdraw_move_and_grant_through_confirmation_pages(client: TestClient) -> None:
    learner, auth = factories.learner(client, full_name="Ana García")
    email = learner["email"]
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    wrong = factories.wrong_answers(client, COURSE, "quiz-1")
    for _ in range(3):
        client.post(
            f"/api/v1/courses/{COURSE}/items/quiz-1/attempts", json={"answers": wrong}, headers=auth
        )
    coordinator(client)
    page = client.get("/coordinator/cohorts")
    token = csrf(page.text)
    for code in ("grupo-a", "grupo-b"):
        client.post(
            "/coordinator/cohorts",
            data={
                "csrf_token": token,
                "action": "create",
                "code": code,
                "name": f"Grupo {code[-1].upper()}",
            },
        )

    speak(client, "es")
    # Find the person, open the enrolment.
    found = client.get(f"/coordinator/corrections?email={email.upper()}")
    assert found.status_code == 200
    assert "Ana García" in found.text
    assert f"/coordinator/enrolments/{COURSE}/{email}" in found.text
    manage = client.get(f"/coordinator/enrolments/{COURSE}/{email}")
    assert manage.status_code == 200
    assert "Intentos en cada cuestionario" in manage.text

    # Extra attempts: review, nothing granted yet; confirm, granted.
    review = client.post(
        f"/coordinator/enrolments/{COURSE}/{email}/attempts",
        data={"csrf_token": token, "item": "quiz-1", "count": "2"},
    )
    assert review.status_code == 200
    assert "¿Dar más intentos a Ana García?" in review.text
    assert "<td>0</td><td><strong>2</strong></td>" in review.text
    assert actions(client) == []
    back = confirm(client, review.text)
    assert back == f"/coordinator/enrolments/{COURSE}/{email}?done=attempts&left=2"
    banner = client.get(back).text
    assert "Se concedieron intentos adicionales." in banner
    assert "Ahora le quedan 2 intentos." in banner
    item = client.get(f"/api/v1/courses/{COURSE}/items/quiz-1", headers=auth).json()
    assert item["attempts_left"] == 2

    speak(client, "en")
    # Move to a cohort.
    review = client.post(
        f"/coordinator/enrolments/{COURSE}/{email}/move",
        data={"csrf_token": token, "cohort": "grupo-b"},
    )
    assert "Move Ana García to another cohort?" in review.text
    assert "<td>No cohort</td><td><strong>Grupo B</strong></td>" in review.text
    assert "The enrolment was moved." in client.get(confirm(client, review.text)).text

    speak(client, "es")
    # Withdraw.
    review = client.post(
        f"/coordinator/enrolments/{COURSE}/{email}/withdraw", data={"csrf_token": token}
    )
    assert "¿Retirar esta inscripción?" in review.text
    shown = client.get(confirm(client, review.text)).text
    assert "La inscripción fue retirada." in shown
    assert "Retirada el" in shown
    assert client.get("/api/v1/me/courses", headers=auth).json() == []
    assert actions(client) == ["quiz.extra_attempts", "enrolment.move", "enrolment.withdraw"]
    # Restored from its page, after a confirmation.
    review = client.post(
        f"/coordinator/enrolments/{COURSE}/{email}/restore", data={"csrf_token": token}
    )
    assert "¿Restablecer esta inscripción?" in review.text
    shown = client.get(confirm(client, review.text)).text
    assert "La inscripción fue restablecida: vuelve a contar." in shown
    assert [c["course_id"] for c in client.get("/api/v1/me/courses", headers=auth).json()] == [
        COURSE
    ]
    review = client.post(
        f"/coordinator/enrolments/{COURSE}/{email}/withdraw", data={"csrf_token": token}
    )
    confirm(client, review.text)
    assert actions(client) == [
        "quiz.extra_attempts",
        "enrolment.move",
        "enrolment.withdraw",
        "enrolment.restore",
        "enrolment.withdraw",
    ]
    # A withdrawn enrolment takes no grant.
    refused = client.post(
        f"/coordinator/enrolments/{COURSE}/{email}/attempts",
        data={"csrf_token": token, "item": "quiz-1", "count": "1"},
    )
    assert refused.status_code == 409
    assert "Esta inscripción está retirada" in refused.text


def test_rename_and_close_a_cohort(client: TestClient) -> None:
    coordinator(client)
    late, _ = factories.learner(client)
    token = csrf(client.get("/coordinator/cohorts").text)
    client.post(
        "/coordinator/cohorts",
        data={
            "csrf_token": token,
            "action": "create",
            "code": "dip-2026",
            "name": "Diplomado 2026",
        },
    )
    speak(client, "es")
    page = client.get("/coordinator/cohorts/dip-2026")
    assert page.status_code == 200
    assert "Abierta" in page.text

    review = client.post(
        "/coordinator/cohorts/dip-2026/rename",
        data={"csrf_token": token, "name": "Diplomado 2026 — grupo A"},
    )
    assert (
        "<td>Diplomado 2026</td><td><strong>Diplomado 2026 — grupo A</strong></td>" in review.text
    )
    assert "La cohorte cambió de nombre." in client.get(confirm(client, review.text)).text
    bad = client.post(
        "/coordinator/cohorts/dip-2026/rename", data={"csrf_token": token, "name": "x"}
    )
    assert bad.status_code == 422
    assert "El nombre de una cohorte necesita de 2 a 200 caracteres en una línea." in bad.text

    speak(client, "en")
    review = client.post(
        "/coordinator/cohorts/dip-2026/close",
        data={"csrf_token": token, "closed": "true"},
    )
    assert "Close the cohort Diplomado 2026 — grupo A?" in review.text
    closed = client.get(confirm(client, review.text)).text
    assert "The cohort was closed." in closed
    assert "Reopen the cohort…" in closed
    # A closed cohort refuses enrolments from the cohorts page, in the reader's language.
    speak(client, "es")
    refused = client.post(
        "/coordinator/cohorts",
        data={
            "csrf_token": token,
            "action": "enrol",
            "cohort": "dip-2026",
            "course": COURSE,
            "emails": late["email"],
        },
    )
    assert refused.status_code == 409
    assert "Esta cohorte está cerrada" in refused.text
    listed = client.get("/coordinator/cohorts").text
    assert "Cerrada el" in listed
    assert 'href="/coordinator/cohorts/dip-2026"' in listed
    assert '<option value="dip-2026"' not in listed  # not offered for new enrolments
    speak(client, "en")
    review = client.post(
        "/coordinator/cohorts/dip-2026/close",
        data={"csrf_token": token, "closed": "false"},
    )
    assert "The cohort was reopened." in client.get(confirm(client, review.text)).text
    assert actions(client) == ["cohort.rename", "cohort.close", "cohort.reopen"]
    assert client.get("/coordinator/cohorts/nope").status_code == 404


def test_fix_a_name_and_an_email(client: TestClient) -> None:
    learner, _ = factories.learner(client, full_name="Jose Perez", email="jose@gmial.com")
    other, _ = factories.learner(client)
    coordinator(client)
    speak(client, "es")
    form = client.get("/coordinator/corrections/jose@gmial.com")
    assert form.status_code == 200
    token = csrf(form.text)
    path = "/coordinator/corrections/jose@gmial.com"

    invalid = client.post(
        path, data={"csrf_token": token, "full_name": "\u200b", "email": "no-es-correo"}
    )
    assert invalid.status_code == 422
    assert "Escriba su nombre completo" in invalid.text
    assert "Escriba un correo electrónico válido" in invalid.text
    taken = client.post(
        path,
        data={"csrf_token": token, "full_name": "José Pérez", "email": other["email"]},
    )
    assert taken.status_code == 409
    assert "Ya existe una cuenta con este correo electrónico." in taken.text
    same = client.post(
        path,
        data={"csrf_token": token, "full_name": "Jose Perez", "email": "jose@gmial.com"},
    )
    assert "No hay nada que cambiar." in same.text

    review = client.post(
        path,
        data={"csrf_token": token, "full_name": "José Pérez", "email": "jose@gmail.com"},
    )
    assert review.status_code == 200
    assert "<td>jose@gmial.com</td><td><strong>jose@gmail.com</strong></td>" in review.text
    assert "cierra todas las sesiones" in review.text
    assert "conservan el nombre impreso" in review.text
    back = confirm(client, review.text)
    assert back == "/coordinator/corrections?email=jose%40gmail.com&done=user"
    shown = client.get(back).text
    assert "La cuenta fue corregida." in shown
    assert "José Pérez" in shown
    assert actions(client) == ["user.update"]
    factories.token(client, "jose@gmail.com", learner["password"])


def test_who_may_open_the_correction_pages(client: TestClient) -> None:
    learner, auth = factories.learner(client)
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    author = factories.profile()
    factories.staff(client, Role.author, email=author["email"], password=author["password"])
    login(client, learner["email"], learner["password"])
    token = csrf(client.get("/me").text)
    for path in (
        "/coordinator/corrections",
        f"/coordinator/enrolments/{COURSE}/{learner['email']}",
        f"/coordinator/corrections/{learner['email']}",
    ):
        assert client.get(path).status_code == 403, path
    posted = client.post(
        f"/coordinator/enrolments/{COURSE}/{learner['email']}/withdraw",
        data={"csrf_token": token, "confirm": "true"},
    )
    assert posted.status_code == 403
    client.cookies.clear()
    coordinator(client)
    # A coordinator corrects learners only.
    assert client.get(f"/coordinator/corrections/{author['email']}").status_code == 403
    speak(client, "en")
    person = client.get(f"/coordinator/corrections?email={author['email']}").text
    assert "Only an administrator can correct a staff account." in person
    assert client.get("/coordinator/corrections?email=nadie@example.org").status_code == 404
    assert client.get(f"/coordinator/enrolments/{COURSE}/nadie@example.org").status_code == 404
    assert actions(client) == []
