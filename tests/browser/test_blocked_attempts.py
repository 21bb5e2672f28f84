"""A learner with no attempt left: the quiz page and "My learning" say so, accessibly."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ContextFactory, LiveServer, sign_in
from tests.browser.helpers import COURSE_ID, quiz, register_learner, wrong_answers
from tests.browser.page_types import FIRST_QUIZ
from tests.browser.test_accessibility import assert_no_violations

pytestmark = pytest.mark.browser


def test_blocked_course_is_explained_on_the_quiz_page_and_my_learning(
    browser_context: ContextFactory, live_server: LiveServer
) -> None:
    learner = register_learner(live_server.base_url, prefix="blocked", full_name="Ana Pérez")
    learner.api.call("POST", f"/api/v1/courses/{COURSE_ID}/enroll")
    first_quiz = quiz(FIRST_QUIZ)
    assert first_quiz.max_attempts is not None
    for _ in range(first_quiz.max_attempts):
        learner.api.call(
            "POST",
            f"/api/v1/courses/{COURSE_ID}/items/{FIRST_QUIZ}/attempts",
            json_body={"answers": wrong_answers(first_quiz)},
        )
    context = browser_context(width=360, height=800)
    sign_in(context, live_server.base_url, learner)
    page = context.new_page()

    page.goto(f"/lang/es?next={quote(f'/courses/{COURSE_ID}/items/{FIRST_QUIZ}')}")
    notice = page.locator("#no-attempts")
    expect(notice).to_contain_text("Bloqueado: sin intentos")
    expect(notice).to_contain_text("Solo la coordinación del curso puede darle otro intento.")
    expect(page.locator("form[action$='/attempts'] button[type=submit]")).to_have_count(0)
    assert_no_violations(page, "the quiz page with no attempts left")

    page.goto("/me")
    card = page.locator("li.card", has=page.locator(f"a[href='/courses/{COURSE_ID}']"))
    expect(card).to_contain_text("Bloqueado: sin intentos")
    expect(card.get_by_role("link", name="Continuar")).to_have_count(0)
    expect(card.get_by_role("link", name=first_quiz.title)).to_be_visible()
    assert_no_violations(page, "My learning with a blocked course")
