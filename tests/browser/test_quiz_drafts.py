"""Quiz answers are never lost: unsent answers are kept in the browser (localStorage, per
account and quiz) as the learner goes, come back when the quiz is opened again, and go once the
quiz is graded. On a shared computer nobody sees another person's answers: drafts are named by
the signed-in account, cleared at logout, and another account's drafts go when someone else
opens a quiz."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from ecampus.courses.content import QuizContent
from tests.browser.conftest import ContextFactory, LiveServer, sign_in
from tests.browser.helpers import COURSE_ID, course, register_learner

pytestmark = pytest.mark.browser

# A quiz with a number question: a number that is not one is refused, and the draft stays.
DRAFT_QUIZ = next(
    i
    for i in course().order
    if isinstance(quiz := course().items[i], QuizContent)
    and {"single", "number"} <= {q.type for q in quiz.questions}
)
QUIZ_URL = f"/courses/{COURSE_ID}/items/{DRAFT_QUIZ}"
DRAFTS = "ecampus:draft:"


def draft_key_of(page: Page) -> str:
    """The account's draft name the page exposes (not its id, not a secret) plus the quiz."""
    owner = form(page).get_attribute("data-draft")
    assert owner, "the quiz form names the account's drafts"
    return f"{DRAFTS}{owner}:{QUIZ_URL}/attempts"


def stored_drafts(page: Page) -> list[str]:
    return list(
        page.evaluate(
            "prefix => Object.keys(localStorage).filter(k => k.startsWith(prefix))", DRAFTS
        )
    )


def the_quiz() -> QuizContent:
    quiz = course().items[DRAFT_QUIZ]
    assert isinstance(quiz, QuizContent)
    return quiz


def form(page: Page) -> Locator:
    return page.locator(f"form[action='{QUIZ_URL}/attempts']")


def draft(page: Page) -> str | None:
    value = page.evaluate("key => localStorage.getItem(key)", draft_key_of(page))
    return None if value is None else str(value)


def fill_some(page: Page) -> dict[str, str]:
    """Answer a choice question (the second option) and a typed one; what was given."""
    quiz = the_quiz()
    choice = next(q for q in quiz.questions if q.type == "single")
    typed = next(q for q in quiz.questions if q.type in ("text", "number"))
    option = choice.options[1].id
    form(page).locator(f"input[name='{choice.id}'][value='{option}']").check()
    form(page).locator(f"input[name='{typed.id}']").press_sequentially("borrador 42")
    return {choice.id: option, typed.id: "borrador 42"}


def expect_answers(page: Page, given: dict[str, str]) -> None:
    quiz = the_quiz()
    for question in quiz.questions:
        if question.id not in given:
            continue
        if question.type in ("text", "number"):
            expect(form(page).locator(f"input[name='{question.id}']")).to_have_value(
                given[question.id]
            )
        else:
            checked = form(page).locator(f"input[name='{question.id}']:checked")
            expect(checked).to_have_count(1)
            expect(checked).to_have_attribute("value", given[question.id])


def expect_empty(page: Page) -> None:
    expect(form(page).locator("input:checked")).to_have_count(0)
    for field in form(page).locator("input[type=text]").all():
        expect(field).to_have_value("")


def test_unsent_quiz_answers_survive_a_reload_and_go_once_graded(
    browser_context: ContextFactory, live_server: LiveServer
) -> None:
    learner = register_learner(live_server.base_url, prefix="draft", full_name="Borrador Seguro")
    learner.api.call("POST", f"/api/v1/courses/{COURSE_ID}/enroll")
    context = browser_context()
    sign_in(context, live_server.base_url, learner)
    page = context.new_page()
    page.goto(QUIZ_URL)
    page.wait_for_function("() => typeof window.htmx === 'object'")
    expect_empty(page)

    given = fill_some(page)
    DRAFT_KEY = draft_key_of(page)  # noqa: N806 - a constant for the rest of the test
    page.wait_for_function(f"() => localStorage.getItem({DRAFT_KEY!r}) !== null")
    assert "borrador 42" in (draft(page) or "")

    # A reload (the connection dropped, the phone restarted the tab)...
    page.reload()
    page.wait_for_function("() => typeof window.htmx === 'object'")
    expect_answers(page, given)
    # ...a new tab, days later...
    again = context.new_page()
    again.goto(QUIZ_URL)
    expect_answers(again, given)
    again.close()
    # ...or away to a lesson and back, both swapped in by htmx.
    outline = page.get_by_role("navigation", name="Contenido del curso")
    lesson = course().order[course().order.index(DRAFT_QUIZ) - 1]  # the item just before
    outline.get_by_role("link", name=course().items[lesson].title).click()
    expect(page).to_have_url(re.compile(rf"/items/{lesson}$"))
    outline.get_by_role("link", name=the_quiz().title).click()
    expect(page).to_have_url(re.compile(rf"{QUIZ_URL}$"))
    expect_answers(page, given)
    # Changing an answer changes the draft.
    number = next(q for q in the_quiz().questions if q.type == "number")
    form(page).locator(f"input[name='{number.id}']").fill("dos mil")
    page.wait_for_function(f"() => (localStorage.getItem({DRAFT_KEY!r}) || '').includes('dos mil')")

    # Refused (a number that is not one): the page says why, and the draft stays.
    form(page).locator("button[type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(form(page).locator(f"input[name='{number.id}']")).to_have_value("dos mil")
    assert "dos mil" in (draft(page) or "")

    # Sent and graded: the draft goes, and the quiz opens empty again.
    form(page).locator(f"input[name='{number.id}']").fill("2017")
    form(page).locator("button[type=submit]").click()
    expect(page.get_by_role("status")).to_contain_text("Puntuación")
    page.wait_for_function(f"() => localStorage.getItem({DRAFT_KEY!r}) === null")
    page.goto(QUIZ_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text(the_quiz().title)
    page.wait_for_function("() => typeof window.htmx === 'object'")
    expect_empty(page)
    assert draft(page) is None


def test_a_draft_never_overwrites_answers_on_the_page(
    browser_context: ContextFactory, live_server: LiveServer
) -> None:
    """A draft fills only an empty form: answers the learner already chose stay as they are."""
    learner = register_learner(live_server.base_url, prefix="draft2", full_name="Sin Pisar")
    learner.api.call("POST", f"/api/v1/courses/{COURSE_ID}/enroll")
    context = browser_context()
    sign_in(context, live_server.base_url, learner)
    quiz = the_quiz()
    choice = next(q for q in quiz.questions if q.type == "single")
    page = context.new_page()
    page.goto(QUIZ_URL)
    DRAFT_KEY = draft_key_of(page)  # noqa: N806 - a constant for the rest of the test
    # An old draft, and a form the browser itself filled in (as it may on reload: no events).
    page.evaluate(
        "([key, name, value]) => localStorage.setItem(key, JSON.stringify({[name]: [value]}))",
        [DRAFT_KEY, choice.id, choice.options[0].id],
    )
    form(page).locator(f"input[name='{choice.id}'][value='{choice.options[2].id}']").evaluate(
        "el => { el.checked = true; }"
    )
    # What app.js does when htmx has swapped the quiz in (and on every page load).
    page.evaluate(
        """() => { const main = document.getElementById('main');
            main.dispatchEvent(new CustomEvent('htmx:afterSettle',
                {bubbles: true, detail: {elt: main}})); }"""
    )
    expect_answers(page, {choice.id: choice.options[2].id})
    # The same draft does fill the form once it is empty.
    form(page).locator(f"input[name='{choice.id}']:checked").evaluate(
        "el => { el.checked = false; }"
    )
    page.evaluate(
        """() => { const main = document.getElementById('main');
            main.dispatchEvent(new CustomEvent('htmx:afterSettle',
                {bubbles: true, detail: {elt: main}})); }"""
    )
    expect_answers(page, {choice.id: choice.options[0].id})


def test_drafts_stay_with_their_account_on_a_shared_computer(
    browser_context: ContextFactory, live_server: LiveServer
) -> None:
    """One browser, two people: the second never sees the first one's unsent answers, and
    logging out leaves nothing behind."""
    first = register_learner(live_server.base_url, prefix="shared1", full_name="Primera Persona")
    second = register_learner(live_server.base_url, prefix="shared2", full_name="Segunda Persona")
    for learner in (first, second):
        learner.api.call("POST", f"/api/v1/courses/{COURSE_ID}/enroll")
    context = browser_context()
    sign_in(context, live_server.base_url, first)
    page = context.new_page()
    page.goto(QUIZ_URL)
    page.wait_for_function("() => typeof window.htmx === 'object'")
    first_key = draft_key_of(page)
    given = fill_some(page)
    page.wait_for_function(f"() => localStorage.getItem({first_key!r}) !== null")

    # The first person walks away without logging out; the second signs in on the same browser.
    sign_in(context, live_server.base_url, second)
    page.goto(QUIZ_URL)
    page.wait_for_function("() => typeof window.htmx === 'object'")
    second_key = draft_key_of(page)
    assert second_key != first_key
    expect_empty(page)
    assert first_key not in stored_drafts(page)  # gone as soon as someone else opened a quiz

    # The second person starts a draft, then logs out with the header's button.
    fill_some(page)
    page.wait_for_function(f"() => localStorage.getItem({second_key!r}) !== null")
    page.get_by_role("button", name="Cerrar sesión").click()
    expect(page.get_by_role("link", name="Iniciar sesión")).to_be_visible()
    assert stored_drafts(page) == []
    # And the session is over, not only the cookie: the quiz asks for a sign-in.
    page.goto(QUIZ_URL)
    expect(page).to_have_url(re.compile(r"/login"))

    # Back on their own account, the first person's own drafts work as before.
    sign_in(context, live_server.base_url, first)
    page.goto(QUIZ_URL)
    page.wait_for_function("() => typeof window.htmx === 'object'")
    assert draft_key_of(page) == first_key
    expect_empty(page)
    fill_some(page)
    page.reload()
    page.wait_for_function("() => typeof window.htmx === 'object'")
    expect_answers(page, given)
