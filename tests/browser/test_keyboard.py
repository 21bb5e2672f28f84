"""The whole journey with the keyboard alone: Tab, Shift+Tab, Enter, Space and the arrow keys.

From the catalogue (typed in the address bar) a learner skips to the content, opens a course,
logs in, enrols, marks lessons done, answers and submits a quiz and moves on; no mouse, no
script of ours clicking. At every Tab stop the focused element must show a focus indicator
(an outline of at least 2 px or a box-shadow) that it does not show when it is not focused,
and it must be on screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ecampus.courses.content import QuizContent
from tests.browser.conftest import SCREENSHOTS, ContextFactory, LiveServer
from tests.browser.helpers import COURSE_ID, COURSE_TITLE, course, number_text, register_learner
from tests.browser.page_types import FIRST_QUIZ

pytestmark = pytest.mark.browser

MAX_TABS = 60

# What a Tab stop looks like now, and how the previous stop looks now that focus has left it.
FOCUS_STATE = """() => {
    const style = (el) => {
        const s = getComputedStyle(el);
        return {outline: `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
                outlineStyle: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0,
                shadow: s.boxShadow};
    };
    const el = document.activeElement;
    const previous = window.__keyboardPrevious;
    const before = previous && previous !== el && previous.isConnected
        ? {key: previous.__keyboardKey, style: style(previous)} : null;
    window.__keyboardStops = (window.__keyboardStops || 0) + 1;
    el.__keyboardKey = el.__keyboardKey || `stop-${window.__keyboardStops}`;
    window.__keyboardPrevious = el;
    const box = el.getBoundingClientRect();
    return {
        key: el.__keyboardKey,
        tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name') || '',
        type: el.getAttribute('type') || '', cls: el.className || '',
        text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 60),
        style: style(el), focusVisible: el.matches(':focus-visible'),
        onScreen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
            && box.top < innerHeight && box.left < innerWidth,
        before,
    };
}"""


@dataclass
class Keyboard:
    """Presses keys and keeps what each Tab stop looked like, focused and after."""

    page: Page
    stops: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    def state(self) -> dict[str, Any]:
        now: dict[str, Any] = self.page.evaluate(FOCUS_STATE)
        before = now.pop("before")
        if before and before["key"] in self.stops:
            self.check(self.stops[before["key"]], before["style"])
        if now["tag"] not in ("body", "html", "main", "h1"):
            self.stops[now["key"]] = now
        return now

    def check(self, stop: dict[str, Any], unfocused: dict[str, Any]) -> None:
        self.checked += 1
        what = f"<{stop['tag']} {stop['name'] or stop['id'] or stop['cls']}> {stop['text']!r}"
        focused = stop["style"]
        outlined = focused["outlineStyle"] != "none" and focused["outlineWidth"] >= 2
        if not (outlined or focused["shadow"] != "none"):
            self.problems.append(f"{what} shows no focus indicator: {focused}")
        elif (focused["outline"], focused["shadow"]) == (unfocused["outline"], unfocused["shadow"]):
            self.problems.append(f"{what} looks the same focused and not: {focused}")
        if not stop["onScreen"]:
            self.problems.append(f"{what} is focused off screen")

    def press(self, key: str) -> dict[str, Any]:
        self.page.keyboard.press(key)
        return self.state()

    def activate(self, key: str = "Enter") -> None:
        """A key that follows a link or sends a form: the page changes, nothing to look at."""
        self.page.keyboard.press(key)

    def tab_to(self, predicate: str, *, what: str, backwards: bool = False) -> dict[str, Any]:
        """Tab (or Shift+Tab) until `predicate(document.activeElement)` holds."""
        for _ in range(MAX_TABS):
            now = self.press("Shift+Tab" if backwards else "Tab")
            if self.page.evaluate(f"({predicate})(document.activeElement)"):
                return now
        raise AssertionError(
            f"{MAX_TABS} Tabs did not reach {what}; stops: {list(self.stops.values())[-8:]}"
        )

    def tab_to_text(self, text: str | re.Pattern[str], *, what: str = "") -> dict[str, Any]:
        pattern = text if isinstance(text, re.Pattern) else re.compile(rf"^{re.escape(text)}$")
        for _ in range(MAX_TABS):
            now = self.press("Tab")
            if pattern.search(" ".join(now["text"].split())):
                return now
        raise AssertionError(f"{MAX_TABS} Tabs did not reach {what or text!r}")


def focused_heading(page: Page) -> None:
    page.wait_for_function("() => document.activeElement?.tagName === 'H1'")


def answer_with_keys(keys: Keyboard, quiz: QuizContent) -> None:
    """Each question in turn: arrows for radios, Space for checkboxes, typing for the rest."""
    for question in quiz.questions:
        keys.tab_to(f"(el) => el.name === {question.id!r}", what=f"question {question.id}")
        answer = question.answer
        if question.type == "single":
            index = next(i for i, o in enumerate(question.options) if o.id == answer)
            keys.press("Space")  # the first option: focused on entering the group, now chosen
            for _ in range(index):
                keys.press("ArrowDown")  # moves to, and chooses, the next option
        elif question.type == "true_false":
            keys.press("Space" if answer else "ArrowDown")
        elif question.type == "multiple":
            for position, option in enumerate(question.options):
                if position:
                    keys.press("Tab")
                if option.id in answer:
                    keys.press("Space")
        else:
            text = number_text(answer) if question.type == "number" else str(answer[0])
            keys.page.keyboard.type(text)


def test_the_whole_journey_works_with_the_keyboard_alone(
    browser_context: ContextFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    learner = register_learner(live_server.base_url, prefix="keys", full_name="Teclado Solo")
    content = course()
    first = content.order[0]
    quiz = content.items[FIRST_QUIZ]
    assert isinstance(quiz, QuizContent)
    quiz_at = content.order.index(FIRST_QUIZ)
    assert quiz_at >= 1, "the journey expects a lesson before the first quiz"
    page = browser_context(width=1280, height=720).new_page()
    keys = Keyboard(page)

    def picture(what: str) -> None:
        """The screen as it is (not the full page), to look at the focus indicator."""
        folder = SCREENSHOTS if live_server.database == "sqlite" else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"keyboard-{what}-1280.png"))

    page.goto("/")  # typed in the address bar
    page.wait_for_function("() => typeof window.htmx === 'object'")

    # The first Tab reaches the skip link, shown on screen; Enter moves focus to the content.
    skip = keys.press("Tab")
    assert "skip" in skip["cls"], f"the first Tab stop is {skip}, not the skip link"
    assert skip["onScreen"], "the focused skip link is not on screen"
    picture("skip-link")
    keys.activate()
    page.wait_for_function("() => document.activeElement?.id === 'main'")
    assert page.evaluate("location.pathname") == "/"

    # Open the course from the catalogue; log in from its page.
    keys.tab_to_text(COURSE_TITLE, what="the course in the catalogue")
    keys.activate()
    expect(page).to_have_url(live_server.url(f"/courses/{COURSE_ID}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(COURSE_TITLE)
    focused_heading(page)
    keys.tab_to_text("Inicie sesión para inscribirse")
    keys.activate()
    expect(page.get_by_role("heading", level=1)).to_have_text("Iniciar sesión")
    keys.tab_to("(el) => el.id === 'f-email'", what="the email field")
    page.keyboard.type(learner.email)
    keys.press("Tab")
    page.keyboard.type(learner.password)
    keys.activate()

    # Back on the course page, logged in: enrol with the Space bar.
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    expect(page).to_have_url(live_server.url(f"/courses/{COURSE_ID}"))
    page.wait_for_load_state()
    keys.tab_to_text("Inscribirse gratis")
    picture("enrol-button")
    keys.activate("Space")
    expect(page).to_have_url(re.compile(rf"/items/{first}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(content.items[first].title)
    focused_heading(page)

    # The lessons before the quiz marked done; htmx swaps each next one in and focuses its heading.
    for following in content.order[1 : quiz_at + 1]:
        keys.tab_to_text(re.compile(r"^Marcar como hecho"))
        keys.activate()
        expect(page).to_have_url(re.compile(rf"/items/{following}$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(content.items[following].title)
        focused_heading(page)

    # The quiz: answered with arrows, Space and typing; back once with Shift+Tab; Enter sends.
    answer_with_keys(keys, quiz)
    picture("quiz-answer")
    keys.tab_to("(el) => el.type === 'submit'", what="the submit button")
    keys.tab_to(
        f"(el) => el.name === {quiz.questions[-1].id!r}", what="the last answer", backwards=True
    )
    keys.tab_to("(el) => el.type === 'submit'", what="the submit button")
    keys.activate()
    result = page.get_by_role("status")
    expect(result).to_contain_text("¡Aprobado!")
    expect(result).to_contain_text("100")
    page.wait_for_function("() => document.activeElement?.id === 'quiz-result'")
    expect(page.get_by_text("✓ Correcto")).to_have_count(len(quiz.questions))

    # On to the next lesson from the result.
    following = content.order[quiz_at + 1]
    keys.tab_to_text(re.compile(r"^Siguiente: "))
    picture("next-link")
    keys.activate()
    expect(page).to_have_url(re.compile(rf"/items/{following}$"))
    focused_heading(page)
    keys.press("Tab")  # leave the last stop, so that it is checked unfocused too

    progress = learner.api.call("GET", "/api/v1/me/courses")
    row = next(r for r in progress if r["course_id"] == COURSE_ID)
    assert row["progress"] == (100 * (quiz_at + 1)) // len(content.order), row
    assert keys.checked >= 20, f"only {keys.checked} Tab stops checked focused and unfocused"
    assert not keys.problems, "focus indicators:\n" + "\n".join(keys.problems)
