"""Every kind of page a learner (or a coordinator) meets, opened in a fresh browser context.

Shared by the accessibility, language and screenshot tests. Each page is reached the way a
person would reach it, but the set-up a test is not about (an account, an enrolment) goes
through the JSON API and the session cookie, so that each test stays independent and fast.
"""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.browser.conftest import ContextFactory, LiveServer, People, sign_in
from tests.browser.helpers import COURSE_ID, course, register_learner, wrong_answers

FIRST_LESSON = course().order[0]
FIRST_QUIZ = next(i for i in course().order if course().items[i].type == "quiz")

PAGE_TYPES = (
    "catalogue",
    "course-anonymous",
    "course-enrolled",
    "course-completed",
    "lesson",
    "quiz",
    "quiz-results",
    "my-learning",
    "profile",
    "login",
    "register",
    "register-errors",
    "verify-form",
    "verify-valid",
    "credential",
    "verify-unknown",
    "not-found",
    "forbidden",
    "coordinator",
    "coordinator-cohorts",
    "coordinator-programmes",
    "coordinator-certificates",
    "coordinator-people",
    "coordinator-person",
    "forgot",
    "reset-gone",
    "authoring",
)

# Pages for a learner who just enrolled; which path each one opens.
_ENROLLED = {
    "course-enrolled": f"/courses/{COURSE_ID}",
    "lesson": f"/courses/{COURSE_ID}/items/{FIRST_LESSON}",
    "quiz": f"/courses/{COURSE_ID}/items/{FIRST_QUIZ}",
    "profile": "/profile",
    "forbidden": "/coordinator",
}
_ANONYMOUS = {
    "catalogue": "/",
    "course-anonymous": f"/courses/{COURSE_ID}",
    "login": "/login",
    "register": "/register",
    "register-errors": "/register",
    "verify-form": "/verify",
    "verify-unknown": "/verify/ZZZZ-ZZZZ-ZZZZ",
    "not-found": "/no-such-page",
    "forgot": "/forgot",
    "reset-gone": "/reset/" + "x" * 43,
}


def open_page_type(
    kind: str,
    browser_context: ContextFactory,
    server: LiveServer,
    people: People,
    *,
    language: str,
    width: int = 1280,
    errors: list[str] | None = None,
) -> Page:
    """A fresh context showing a page of that kind, reached through the language switch
    (/lang/xx?next=...), so that the page is in `language`."""
    context = browser_context(width=width, height=800)
    if kind == "quiz-results":  # answering changes the learner: a learner of its own
        learner = register_learner(server.base_url, prefix=kind, full_name="Ana Lucía Pérez")
        learner.api.call("POST", f"/api/v1/courses/{COURSE_ID}/enroll")
        sign_in(context, server.base_url, learner)
        path = f"/courses/{COURSE_ID}/items/{FIRST_QUIZ}"
    elif kind in _ENROLLED:  # pages only looked at: the shared reader
        sign_in(context, server.base_url, people.reader)
        path = _ENROLLED[kind]
    elif kind in _ANONYMOUS:
        path = _ANONYMOUS[kind]
    elif kind.startswith("coordinator") or kind == "authoring":
        sign_in(context, server.base_url, people.coordinator_token)
        path = {
            "coordinator": "/coordinator",
            "coordinator-cohorts": "/coordinator/cohorts",
            "coordinator-programmes": "/coordinator/programmes",
            "coordinator-certificates": f"/coordinator/certificates?code={people.certificate}",
            "coordinator-people": "/coordinator/people",
            "coordinator-person": f"/coordinator/people/{quote(people.reader.email)}",
            "authoring": "/authoring",
        }[kind]
    else:
        sign_in(context, server.base_url, people.graduate)
        path = {
            "course-completed": f"/courses/{COURSE_ID}",
            "my-learning": "/me",
            "verify-valid": f"/verify/{people.certificate}",
            "credential": f"/certificates/{people.certificate}/credential",
        }[kind]
    page = context.new_page()
    if errors is not None:  # uncaught exceptions in the page's scripts
        page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(f"/lang/{language}?next={quote(path, safe='/')}")
    assert response is not None
    expected = {"not-found": 404, "verify-unknown": 404, "forbidden": 403, "reset-gone": 400}.get(
        kind, 200
    )
    assert response.status == expected, f"{kind}: GET {path} -> {response.status}"
    if kind == "quiz-results":
        submit_wrong_answers(page)
    elif kind == "register-errors":
        # Skip the browser's own checks, as an old browser would, to see the server's messages.
        page.locator("form[action='/register']").evaluate("form => { form.noValidate = true; }")
        page.locator("#f-email").fill("not-an-address")
        page.locator("form[action='/register'] button[type=submit]").click()
        expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    return page


def submit_wrong_answers(page: Page) -> None:
    """Answer the first quiz wrongly (by option values, whatever the language) and submit."""
    quiz = course().items[FIRST_QUIZ]
    form = page.locator(f"form[action='/courses/{COURSE_ID}/items/{FIRST_QUIZ}/attempts']")
    for question_id, value in wrong_answers(quiz).items():  # type: ignore[arg-type]
        values = value if isinstance(value, list) else [value]
        for one in values:
            text = str(one).lower() if isinstance(one, bool) else str(one)
            choice = form.locator(f"input[name='{question_id}'][value='{text}']")
            if choice.count():
                choice.check()
            else:
                form.locator(f"input[name='{question_id}']").fill(text)
    form.locator("button[type=submit]").click()
    expect(page.locator("fieldset.question.wrong").first).to_be_visible()
