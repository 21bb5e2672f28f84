"""One interface language at a time: no English left in the Spanish pages, no Spanish in the
English ones. Course content keeps its own language, marked with `lang`. (Every page type is
checked this way in test_accessibility.py, which opens each page once for all its checks.)

The interface text of a page is every text node (and the names a screen reader reads:
aria-label, placeholder, title, alt), except inside an element that carries its own `lang`
(the course's titles, lessons, questions and options, and the language switch's "English"/
"Español"). A text node that is, as a whole, a message of the other language (an English
msgid on a Spanish page, a Spanish translation on an English page) is interface text that
was not translated, or that was translated on the wrong page.
"""

from __future__ import annotations

import re

import pytest
from babel.numbers import format_decimal
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ContextFactory, LiveServer, People, sign_in
from tests.browser.helpers import (
    COURSE_ID,
    COURSE_TITLE,
    PASSWORD,
    course,
    register_learner,
    unique_email,
)
from tests.browser.page_types import FIRST_QUIZ, submit_wrong_answers
from tests.messages import ROOT, SPANISH, catalogue, catalogues, foreign_messages, source_messages
from tests.messages import texts as _texts

pytestmark = pytest.mark.browser


INTERFACE_TEXT = """() => {
    const root = document.documentElement;
    const mine = (el) => { const holder = el.closest('[lang]'); return !holder || holder === root; };
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (!el || el.closest('script, style, template, code') || !mine(el)) continue;
        texts.push(node.textContent);
    }
    for (const el of document.body.querySelectorAll('[aria-label], [placeholder], [title], [alt]')) {
        if (!mine(el)) continue;
        for (const name of ['aria-label', 'placeholder', 'title', 'alt']) {
            if (el.hasAttribute(name)) texts.push(el.getAttribute(name));
        }
    }
    texts.push(...document.title.split(' · '));
    return texts.map((t) => t.replace(/\\s+/g, ' ').trim()).filter((t) => t);
}"""


def foreign_interface_text(page: Page) -> list[str]:
    """The interface texts of the page that are messages of the other language."""
    language = str(page.evaluate("document.documentElement.lang"))
    found = [t for t in page.evaluate(INTERFACE_TEXT) if foreign_messages(t, language)]
    return sorted(set(found))


def assert_one_language(page: Page, what: str) -> None:
    leaks = foreign_interface_text(page)
    language = page.evaluate("document.documentElement.lang")
    assert not leaks, f"{what} ({page.url}, lang={language}) shows the other language: {leaks}"


def test_every_interface_message_has_its_spanish_translation() -> None:
    spanish = catalogue("es")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in spanish
        if m.id and _texts(m.string) and all(_texts(m.string)) and not m.fuzzy
    }
    missing = sorted(source_messages() - translated)
    assert not missing, f"add these to {SPANISH.relative_to(ROOT)}: {missing}"
    assert len(catalogues()["es"]) > 100


def test_the_check_finds_untranslated_text_and_spares_course_content(
    chromium_browser: Browser,
) -> None:
    page = chromium_browser.new_page()
    try:
        page.set_content(
            "<html lang='es'><head><title>Submit answers · ecampus</title></head><body>"
            "<p>Puntuación: 80 %</p><p>Score: 80 %</p><button>Submit answers</button>"
            "<p>3 attempts left.</p><nav aria-label='Main'></nav>"
            "<article lang='en'><h1>Submit answers</h1><p>Quiz</p></article>"
            "<p>Siguiente: <span lang='en'>Next steps</span> →</p></body></html>"
        )
        assert foreign_interface_text(page) == [
            "3 attempts left.",
            "Main",
            "Score: 80 %",
            "Submit answers",
        ]
        page.set_content(
            "<html lang='en'><body><p>Cuestionario</p><p>Le quedan 2 intentos.</p>"
            "<p lang='es'>Cuestionario</p><p>Quiz</p></body></html>"
        )
        assert foreign_interface_text(page) == ["Cuestionario", "Le quedan 2 intentos."]
    finally:
        page.close()


def test_an_english_speaker_takes_a_spanish_course_in_an_english_interface(
    browser_context: ContextFactory, live_server: LiveServer
) -> None:
    """Accept-Language: en. The interface is English throughout; the course stays Spanish."""
    page = browser_context(locale="en-US").new_page()
    content = course()
    first, second = content.order[0], content.order[1]

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Free self-paced courses")
    assert_one_language(page, "the catalogue")
    page.get_by_role("link", name=COURSE_TITLE, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(COURSE_TITLE)
    expect(page.get_by_role("heading", level=1)).to_have_attribute("lang", "es")
    assert_one_language(page, "the course page")

    page.get_by_role("link", name="or create an account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    assert_one_language(page, "the registration page")
    page.get_by_label("Email").fill(unique_email("english"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Full name").fill("Grace Okafor")
    page.get_by_label("Institution", exact=True).fill("International Labour Office")
    page.get_by_label("Institution type").select_option(label="International organisation")
    page.get_by_label("Country").select_option(label="Costa Rica")
    expect(page.get_by_label("Preferred language")).to_have_value("en")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(COURSE_TITLE)
    page.get_by_role("button", name="Enrol for free").click()
    expect(page).to_have_url(re.compile(rf"/items/{first}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(content.items[first].title)
    assert_one_language(page, "the first lesson")
    page.get_by_role("button", name=re.compile(r"^Mark as done")).click()
    expect(page).to_have_url(re.compile(rf"/items/{second}$"))
    expect(page.get_by_role("navigation", name="Course contents")).to_contain_text("complete")
    assert_one_language(page, "the second lesson")

    page.get_by_role("navigation", name="Course contents").get_by_role(
        "link", name=content.items[FIRST_QUIZ].title
    ).click()
    expect(page).to_have_url(re.compile(rf"/items/{FIRST_QUIZ}$"))
    expect(page.get_by_role("button", name="Submit answers")).to_be_visible()
    assert_one_language(page, "the quiz")
    submit_wrong_answers(page)
    expect(page.get_by_role("status")).to_contain_text("Not passed yet.")
    expect(page.get_by_text("✗ Incorrect").first).to_be_visible()
    assert_one_language(page, "the quiz results")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My learning").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My learning")
    assert_one_language(page, "my learning")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Profile")
    assert_one_language(page, "the profile")


def test_the_language_switch_turns_the_interface_to_english_and_back(
    browser_context: ContextFactory, live_server: LiveServer
) -> None:
    page = browser_context().new_page()
    page.goto(f"/courses/{COURSE_ID}")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.wait_for_function("() => typeof window.htmx === 'object'")
    # Navigate with htmx first: the switch must still bring the learner back to this page.
    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Cursos").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cursos gratuitos a su propio ritmo")
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Free self-paced courses")
    assert_one_language(page, "the catalogue after the switch")
    page.get_by_role("link", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    assert_one_language(page, "the catalogue switched back")


COUNTS = {
    "es": ("{n} cursos", "{hours} horas · {modules} módulos · {items} elementos",
           "{hours} horas", "Le quedan {n} intentos."),
    "en": ("{n} courses", "{hours} hours · {modules} modules · {items} items",
           "{hours} hours", "{n} attempts left."),
}  # fmt: skip


@pytest.mark.parametrize("language", ["es", "en"])
def test_counts_read_in_the_interface_language(
    browser_context: ContextFactory, live_server: LiveServer, people: People, language: str
) -> None:
    """Several courses, 4.5 hours, modules and items, attempts left: never 1 of each, so that
    every plural form a reader meets is on the page (Spanish has one, many and other)."""
    courses, outline, hours_text, attempts = COUNTS[language]
    content = course()
    hours = format_decimal(content.hours, locale=language)
    context = browser_context(locale="es-GT" if language == "es" else "en-US")
    learner = register_learner(live_server.base_url, prefix=f"counts-{language}")
    learner.api.call("POST", f"/api/v1/courses/{COURSE_ID}/enroll")
    sign_in(context, live_server.base_url, learner)
    page = context.new_page()
    page.goto(f"/lang/{language}?next=/")
    expect(page.locator("html")).to_have_attribute("lang", language)

    shown = page.get_by_text(re.compile("^" + courses.format(n=r"(\d+)") + "$"))
    expect(shown).to_be_visible()
    assert int(shown.inner_text().split()[0]) > 1
    expect(page.get_by_text(hours_text.format(hours=hours)).first).to_be_visible()
    assert_one_language(page, "the catalogue with several courses")

    page.goto(f"/courses/{COURSE_ID}")
    modules, items = len(content.modules), len(content.order)
    expect(
        page.get_by_text(outline.format(hours=hours, modules=modules, items=items))
    ).to_be_visible()
    assert_one_language(page, "the course page")

    page.goto(f"/courses/{COURSE_ID}/items/{FIRST_QUIZ}")
    expect(page.get_by_text(attempts.format(n=3))).to_be_visible()
    assert_one_language(page, "the quiz with 3 attempts left")
    submit_wrong_answers(page)
    expect(page.get_by_text(attempts.format(n=2))).to_be_visible()
    assert_one_language(page, "the quiz with 2 attempts left")

    page.goto(f"/verify/{people.certificate}")
    expect(page.get_by_text(hours_text.format(hours=hours), exact=True)).to_be_visible()
    assert_one_language(page, "the verification page")
