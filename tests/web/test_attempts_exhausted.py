"""A learner who used every attempt at a quiz is told so, and whom to ask for another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecampus.app import create_app
from tests import factories
from tests.conftest import make_settings
from tests.web.test_pages import csrf, login

COURSE = "demo-course"
QUIZ = f"/courses/{COURSE}/items/quiz-1"
CONTACT = "coordinacion@example.gob.gt"


@pytest.fixture
def client(database_url: str, courses_dir: Path) -> Iterator[TestClient]:
    settings = make_settings(database_url, courses_dir, support_contact=CONTACT)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def use_every_attempt(client: TestClient, *, pass_last: bool = False) -> dict[str, str]:
    """A learner fails quiz-1 until no attempt is left (3), through the API."""
    data, auth = factories.learner(client)
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    wrong = factories.wrong_answers(client, COURSE, "quiz-1")
    right = factories.answer_key(client, COURSE, "quiz-1")
    for number in (1, 2, 3):
        answers = right if pass_last and number == 3 else wrong
        graded = client.post(f"/api/v1{QUIZ}/attempts", json={"answers": answers}, headers=auth)
        assert graded.status_code == 200, graded.text
    assert graded.json()["attempts_left"] == 0
    api = client.get("/api/v1/me/courses", headers=auth).json()
    assert [c["blocked_item"] for c in api] == [None if pass_last else "quiz-1"]
    login(client, data["email"], data["password"])
    return data


def test_quiz_page_says_the_course_is_blocked_and_whom_to_ask_in_spanish(
    client: TestClient,
) -> None:
    use_every_attempt(client)
    page = client.get(QUIZ, headers={"accept-language": "es"}).text
    assert "Bloqueado: sin intentos" in page
    assert (
        "Ya utilizó todos los intentos de este cuestionario sin alcanzar la nota mínima, "
        "así que todavía no puede completar el curso." in page
    )
    assert "Solo la coordinación del curso puede darle otro intento." in page
    assert f'Para pedirlo, comuníquese con <a href="mailto:{CONTACT}">{CONTACT}</a>.' in page
    assert 'type="submit"' not in page.split('id="no-attempts"')[1].split("</form>")[0]
    # Another try is refused, with the same explanation on the page it returns.
    refused = client.post(f"{QUIZ}/attempts", data={"csrf_token": csrf(page), "q1": "b"})
    assert refused.status_code == 409
    assert "Solo la coordinación del curso puede darle otro intento." in refused.text


def test_my_learning_and_course_page_show_the_course_blocked_not_continue(
    client: TestClient,
) -> None:
    use_every_attempt(client)
    mine = client.get("/me", headers={"accept-language": "es"}).text
    assert "Bloqueado: sin intentos" in mine
    assert ">Continuar<" not in mine
    assert (
        f'Ya utilizó todos los intentos del cuestionario <a href="{QUIZ}" lang="es">Evaluación</a>'
        " sin alcanzar la nota mínima" in mine
    )
    assert f'<a href="mailto:{CONTACT}">{CONTACT}</a>' in mine
    course = client.get(f"/courses/{COURSE}", headers={"accept-language": "es"}).text
    assert "Bloqueado: sin intentos" in course
    assert "Continuar donde lo dejó" not in course
    assert "Solo la coordinación del curso puede darle otro intento." in course


def test_the_same_in_english(client: TestClient) -> None:
    use_every_attempt(client)
    quiz = client.get(QUIZ, params={"lang": "en"}).text
    assert "Blocked: no attempts left" in quiz
    assert (
        "You have used every attempt at this quiz without reaching the pass mark, "
        "so the course cannot be completed yet." in quiz
    )
    assert "Only the course coordinator can give you another attempt." in quiz
    assert f'To ask for one, contact <a href="mailto:{CONTACT}">{CONTACT}</a>.' in quiz
    mine = client.get("/me", params={"lang": "en"}).text
    assert "Blocked: no attempts left" in mine
    assert ">Continue<" not in mine
    assert "You have used every attempt at the quiz" in mine
    assert "Bloqueado" not in quiz + mine


def test_a_quiz_passed_on_the_last_attempt_blocks_nothing(client: TestClient) -> None:
    use_every_attempt(client, pass_last=True)
    quiz = client.get(QUIZ, params={"lang": "en"}).text
    assert "Blocked" not in quiz
    assert "You have used all the attempts for this quiz." in quiz
    assert "Blocked" not in client.get("/me", params={"lang": "en"}).text


@pytest.mark.parametrize(
    ("contact", "shown"),
    [
        ("https://example.gob.gt/ayuda", '<a href="https://example.gob.gt/ayuda">https://example.gob.gt/ayuda</a>'),
        ("la coordinación del diplomado (tel. 2411-2411)", "comuníquese con la coordinación del diplomado (tel. 2411-2411)."),
        ("", "Para pedirlo, comuníquese con la coordinación de su curso o programa."),
        ('<b>"x"</b>', "comuníquese con &lt;b&gt;&#34;x&#34;&lt;/b&gt;."),
    ],
)  # fmt: skip
def test_the_contact_setting_is_shown_as_a_link_or_as_text(
    database_url: str, courses_dir: Path, contact: str, shown: str
) -> None:
    settings = make_settings(database_url, courses_dir, support_contact=contact)
    with TestClient(create_app(settings)) as client:
        use_every_attempt(client)
        page = client.get(QUIZ, headers={"accept-language": "es"}).text
    assert shown in page


def test_the_last_failed_attempt_through_htmx_shows_whom_to_ask(client: TestClient) -> None:
    # The quiz form posts with htmx, which swaps <main>: the page's `main` block is rendered
    # on its own, and the macro that explains whom to ask must be there too.
    data, auth = factories.learner(client)
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    wrong = factories.wrong_answers(client, COURSE, "quiz-1")
    for _ in (1, 2):
        graded = client.post(f"/api/v1{QUIZ}/attempts", json={"answers": wrong}, headers=auth)
        assert graded.status_code == 200, graded.text
    login(client, data["email"], data["password"])
    page = client.get(QUIZ, headers={"accept-language": "es"}).text
    form = {"csrf_token": csrf(page), "q1": "a", "q2": "y", "q3": "false", "q4": "no", "q5": "1"}
    htmx = {"HX-Request": "true", "HX-Target": "main", "accept-language": "es"}
    last = client.post(f"{QUIZ}/attempts", data=form, headers=htmx)
    assert last.status_code == 200, last.text
    assert last.text.startswith("<title>")
    assert "Bloqueado: sin intentos" in last.text
    assert f'<a href="mailto:{CONTACT}">{CONTACT}</a>' in last.text
