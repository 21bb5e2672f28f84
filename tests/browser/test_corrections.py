"""A coordinator corrects the record in the real Chromium: withdraws an enrolment made by
mistake, and gives a learner who used every attempt at a quiz one more, after which the
learner submits the quiz again and passes. Each step goes through its confirmation page."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ENGLISH_COURSE_ID, ContextFactory, LiveServer, sign_in
from tests.browser.helpers import COURSE_ID, Api, course, quiz, register_learner, wrong_answers
from tests.browser.page_types import FIRST_QUIZ
from tests.browser.test_accessibility import assert_no_violations
from tests.browser.test_learner_journey import (
    answer_quiz,
    correct_ui_answers,
    result_box,
    submit_quiz,
)

pytestmark = pytest.mark.browser


def test_coordinator_withdraws_a_mistaken_enrolment_and_grants_an_extra_attempt(
    browser_context: ContextFactory, live_server: LiveServer
) -> None:
    learner = register_learner(live_server.base_url, prefix="corregir", full_name="Ana Pérez")
    learner.api.call("POST", f"/api/v1/courses/{COURSE_ID}/enroll")
    learner.api.call("POST", f"/api/v1/courses/{ENGLISH_COURSE_ID}/enroll")  # the mistake
    first_quiz = quiz(FIRST_QUIZ)
    assert first_quiz.max_attempts is not None
    for _ in range(first_quiz.max_attempts):
        learner.api.call(
            "POST",
            f"/api/v1/courses/{COURSE_ID}/items/{FIRST_QUIZ}/attempts",
            json_body={"answers": wrong_answers(first_quiz)},
        )
    coordinator = Api(live_server.base_url).as_user(
        live_server.coordinator_email, live_server.coordinator_password
    )
    desk = browser_context().new_page()
    sign_in(desk.context, live_server.base_url, coordinator)

    # Find the person and the enrolment made by mistake.
    desk.goto("/lang/es?next=/coordinator/corrections")
    desk.get_by_label("Correo electrónico de la persona").fill(learner.email)
    desk.get_by_role("button", name="Buscar").click()
    expect(desk.get_by_role("heading", name="Ana Pérez")).to_be_visible()
    mistaken = course(ENGLISH_COURSE_ID).title
    desk.get_by_role("row", name=re.compile(re.escape(mistaken))).get_by_role("link").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Inscripción de Ana Pérez")
    assert_no_violations(desk, "an enrolment's corrections page")

    # Withdraw it: the confirmation page says what will change; nothing changes until confirmed.
    desk.get_by_role("button", name="Retirar esta inscripción…").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("¿Retirar esta inscripción?")
    expect(desk.get_by_role("table", name="Qué va a cambiar")).to_contain_text("Retirada")
    assert_no_violations(desk, "a correction's confirmation page")
    assert {r["course_id"] for r in learner.api.call("GET", "/api/v1/me/courses")} == {
        COURSE_ID,
        ENGLISH_COURSE_ID,
    }
    desk.get_by_role("button", name="Retirar la inscripción").click()
    expect(desk.get_by_role("status")).to_contain_text("La inscripción fue retirada.")
    assert [r["course_id"] for r in learner.api.call("GET", "/api/v1/me/courses")] == [COURSE_ID]

    # Grant one more attempt at the quiz the learner is stuck on.
    desk.get_by_role("link", name="Ana Pérez").click()
    right = course(COURSE_ID).title
    desk.get_by_role("row", name=re.compile(re.escape(right))).get_by_role("link").click()
    row = desk.get_by_role("row", name=re.compile(re.escape(first_quiz.title)))
    row.get_by_label("Cuántos").fill("1")
    row.get_by_role("button", name=re.compile("^Conceder")).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("¿Dar más intentos a Ana Pérez?")
    desk.get_by_role("button", name="Conceder los intentos").click()
    expect(desk.get_by_role("status")).to_contain_text("Ahora le queda 1 intento.")

    # The learner may answer again, and passes.
    learner_context = browser_context()
    sign_in(learner_context, live_server.base_url, learner)
    page = learner_context.new_page()
    page.goto(f"/lang/es?next={quote(f'/courses/{COURSE_ID}/items/{FIRST_QUIZ}')}")
    expect(page.locator("#no-attempts")).to_have_count(0)
    expect(page.get_by_text("Le queda 1 intento.")).to_be_visible()
    answer_quiz(page, first_quiz, correct_ui_answers(first_quiz))
    submit_quiz(page)
    expect(result_box(page)).to_contain_text("¡Aprobado!")
    rows = learner.api.call("GET", "/api/v1/me/courses")
    assert [r["blocked_item"] for r in rows] == [None]
