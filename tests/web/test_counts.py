"""Pages with real counts speak one language: several courses in the catalogue, 2.2 hours,
modules and items, attempts left, a certificate's hours. The interface text of each page (not
the course content, marked with its own `lang`) must hold no message of the other language,
the check tests/browser/test_languages.py makes in Chromium, here on the server's HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from babel.numbers import format_decimal, format_percent
from fastapi.testclient import TestClient

from ecampus.accounts.models import Role
from tests import factories
from tests.messages import foreign_messages
from tests.web.test_pages import login

COURSE = "codigo-migracion"  # hours with decimals; quizzes with max_attempts: 3
EXPECTED = {
    "es": {
        "catalogue": r"\d+ cursos",
        "hours": "{hours} horas",
        "outline": "{modules} módulos · {items} elementos",
        "attempts": ("Le quedan 3 intentos.", "Le quedan 2 intentos."),
    },
    "en": {
        "catalogue": r"\d+ courses",
        "hours": "{hours} hours",
        "outline": "{modules} modules · {items} items",
        "attempts": ("3 attempts left.", "2 attempts left."),
    },
}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip


class InterfaceText(HTMLParser):
    """The page's text nodes and the names read aloud (aria-label, placeholder, title, alt),
    outside script, style, template, code and anything carrying its own `lang`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is its content course content or code?
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        outside = bool(self.stack and self.stack[-1])
        own = tag != "html" and "lang" in attributes
        skipped = outside or own or tag in {"script", "style", "template", "code"}
        if not (outside or own):
            for name in ("aria-label", "placeholder", "title", "alt"):
                if attributes.get(name):
                    self.texts.append(str(attributes[name]))
        if tag not in VOID:
            self.stack.append(skipped)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.texts.append(data)


def interface_text(html: str) -> list[str]:
    parser = InterfaceText()
    parser.feed(html)
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    texts = [*parser.texts, *(title.group(1).split(" · ") if title else [])]
    return [t for t in (" ".join(t.split()) for t in texts) if t]


def page(client: TestClient, path: str, language: str) -> str:
    response = client.get(path, params={"lang": language})
    assert response.status_code == 200, f"{path}: {response.status_code}"
    html = response.text
    assert f'<html lang="{language}"' in html
    leaks = sorted({t for t in interface_text(html) if foreign_messages(t, language)})
    assert not leaks, f"{path} (lang={language}) shows the other language: {leaks}"
    return " ".join(" ".join(interface_text(html)).split())


def test_the_check_finds_a_count_left_in_english() -> None:
    html = (
        "<html lang='es'><head><title>Cursos · ecampus</title></head><body>"
        "<p>4 courses</p><p>4,5 horas · 5 modules · 16 elementos</p><p>3 attempts left.</p>"
        "<article lang='en'><p>4 courses</p></article><code>2 items</code></body></html>"
    )
    leaks = sorted({t for t in interface_text(html) if foreign_messages(t, "es")})
    assert leaks == ["3 attempts left.", "4 courses", "4,5 horas · 5 modules · 16 elementos"]
    english = "<html lang='en'><body><p>Le quedan 2 intentos.</p><p>5 modules</p></body></html>"
    assert [t for t in interface_text(english) if foreign_messages(t, "en")] == [
        "Le quedan 2 intentos."
    ]


@pytest.mark.parametrize("language", ["es", "en"])
def test_pages_with_counts_speak_the_readers_language(
    bundled_client: TestClient, language: str
) -> None:
    client = bundled_client
    expected = EXPECTED[language]
    content = client.app.state.catalogue.get(COURSE)  # type: ignore[attr-defined]
    hours = expected["hours"].format(hours=format_decimal(content.hours, locale=language))
    outline_text = expected["outline"].format(
        modules=len(content.modules), items=len(content.order)
    )
    assert len(content.modules) > 1
    assert len(content.order) > 1

    catalogue = page(client, "/", language)
    courses = re.search(expected["catalogue"], catalogue)
    assert courses, catalogue
    assert int(courses.group(0).split()[0]) > 1
    assert hours in catalogue

    outline = page(client, f"/courses/{COURSE}", language)
    assert f"{hours} · {outline_text}" in outline

    data, auth = factories.learner(client, language=language, full_name="Ana Lucía Pérez")
    login(client, data["email"], data["password"])
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    items = [
        i for m in client.get(f"/api/v1/courses/{COURSE}").json()["modules"] for i in m["items"]
    ]
    quiz = next(i["id"] for i in items if i["type"] == "quiz")
    first, second = expected["attempts"]
    assert first in page(client, f"/courses/{COURSE}/items/{quiz}", language)
    attempts = f"/api/v1/courses/{COURSE}/items/{quiz}/attempts"
    wrong = {"answers": factories.wrong_answers(client, COURSE, quiz)}
    assert client.post(attempts, headers=auth, json=wrong).json()["passed"] is False
    assert second in page(client, f"/courses/{COURSE}/items/{quiz}", language)
    page(client, "/me", language)

    for item in items:
        if item["type"] == "lesson":
            url = f"/api/v1/courses/{COURSE}/items/{item['id']}/complete"
            assert client.post(url, headers=auth).status_code == 200
        else:
            url = f"/api/v1/courses/{COURSE}/items/{item['id']}/attempts"
            key = {"answers": factories.answer_key(client, COURSE, item["id"])}
            assert client.post(url, headers=auth, json=key).json()["passed"] is True
    code = client.get("/api/v1/me/courses", headers=auth).json()[0]["certificate"]
    assert code
    verification = page(client, f"/verify/{code}", language)
    assert hours in verification
    page(client, "/me", language)
    page(client, f"/courses/{COURSE}", language)

    email = f"coordinator-{language}@example.org"
    factories.staff(client, Role.coordinator, email=email, language=language)
    login(client, email, factories.profile()["password"])
    report = page(client, f"/coordinator?course={COURSE}", language)
    done = " ".join(format_percent(1, locale=language).split())
    assert f"Ana Lucía Pérez {data['email']}" in report
    assert done in report.split(data["email"], 1)[1]
