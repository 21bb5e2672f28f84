"""Every count reads in the reader's language: each catalogue declares the plural rule it is
compiled with, every ngettext message has all its forms, and none of them falls back to English.

Spanish has three CLDR plural categories (one, many, other: "1 curso", "1.000.000 cursos",
"5 cursos"); a catalogue that fills only two sends every "other" count to English.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from babel import Locale
from babel.messages.catalog import TranslationError
from babel.messages.checkers import num_plurals, python_format
from babel.messages.plurals import get_plural
from babel.plural import to_gettext

from ecampus.certificates.pdf import LABELS, _hours_text
from ecampus.web import i18n
from ecampus.web.assets import StaticAssets
from ecampus.web.templating import Templates, current_language, ngettext
from tests.messages import LOCALE, ROOT, catalogue, extracted, foreign_messages

LANGUAGES = ("es", "en")
COUNTS = (0, 1, 2, 5, 21, 1_000_000)
CLDR_ORDER = ("zero", "one", "two", "few", "many", "other")  # the order to_gettext numbers them


def plural_messages() -> list[tuple[str, str]]:
    """Every ngettext message: in the code and templates, and in either catalogue."""
    found = {m for m in extracted() if isinstance(m, tuple)}
    for language in LANGUAGES:
        found.update(tuple(m.id) for m in catalogue(language) if m.pluralizable)
    return sorted((singular, plural) for singular, plural in found)


PLURALS = plural_messages()


def english_words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W\d_]{3,}", re.sub(r"%\(\w+\)s", " ", text))}


def test_there_are_plural_messages_to_check() -> None:
    assert ("%(num)s course", "%(num)s courses") in PLURALS
    assert len(PLURALS) >= 5


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalogue_declares_the_plural_rule_it_is_compiled_with(language: str) -> None:
    header = (LOCALE / language / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    assert '"Plural-Forms: nplurals=' in header.split("\n\n", 1)[0], "no Plural-Forms header"
    declared = catalogue(language)
    babel_rule = get_plural(language)
    assert (declared.num_plurals, declared.plural_expr) == (
        babel_rule.num_plurals,
        babel_rule.plural_expr,
    )
    assert i18n.translations(language).plural is not None
    # The gettext rule puts every whole number in the slot of its CLDR category.
    cldr = Locale.parse(language).plural_form
    slots = [c for c in CLDR_ORDER if c in cldr.tags | {"other"}]
    assert f"nplurals={len(slots)};" in to_gettext(cldr)
    compiled = i18n.translations(language).plural  # type: ignore[attr-defined]
    for n in (*range(0, 1001), 10**6, 2 * 10**6, 10**6 + 1, 10**7, 10**9):
        assert compiled(n) == slots.index(cldr(n)), f"{language}: n={n} is {cldr(n)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_plural_message_has_every_form(language: str) -> None:
    messages = {m.id[0]: m for m in catalogue(language) if m.pluralizable}
    declared = catalogue(language)
    problems = []
    for singular, _plural in PLURALS:
        message = messages.get(singular)
        if message is None:
            problems.append(f"{singular!r} is not in the catalogue")
            continue
        forms = message.string
        if message.fuzzy or len(forms) != declared.num_plurals or not all(forms):
            problems.append(f"{singular!r} has forms {forms!r}")
        for check in (num_plurals, python_format):
            try:
                check(declared, message)
            except TranslationError as error:
                problems.append(f"{singular!r}: {error}")
    assert not problems, f"{language}: {problems}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("n", COUNTS)
def test_every_plural_message_renders_in_the_readers_language(language: str, n: int) -> None:
    token = current_language.set(language)
    try:
        rendered = {m: ngettext(*m, n) for m in PLURALS}
    finally:
        current_language.reset(token)
    number = i18n.format_number(n, language)
    spanish = {m.id[0]: m for m in catalogue("es") if m.pluralizable}
    for (singular, plural), text in rendered.items():
        assert number in text, f"{text!r} should show {number}"
        assert not foreign_messages(text, language), f"{language}, n={n}: {text!r}"
        if language == "es":
            known = spanish.get(singular)
            own = english_words(" ".join(known.string)) if known else set()
            leaked = english_words(f"{singular} {plural}") - own & english_words(text)
            assert not leaked, f"n={n}: {text!r} has English words {sorted(leaked)}"
            assert text not in {singular % {"num": number}, plural % {"num": number}}


@pytest.mark.parametrize(
    ("language", "hours", "expected"),
    [
        ("es", 1, "1 hora"),
        ("es", 4.5, "4,5 horas"),
        ("es", 0.5, "0,5 horas"),
        ("es", 1_000_000, "1.000.000 de horas"),
        ("es", Decimal("30"), "30 horas"),
        ("en", 1, "1 hour"),
        ("en", 4.5, "4.5 hours"),
        ("en", 0.5, "0.5 hours"),
        ("en", 1_000_000, "1,000,000 hours"),
        ("en", 1.0, "1 hour"),
    ],
)
def test_counts_with_decimals_take_the_cldr_plural(
    language: str, hours: float, expected: str
) -> None:
    token = current_language.set(language)
    try:
        assert ngettext("%(num)s hour", "%(num)s hours", hours) == expected
    finally:
        current_language.reset(token)


@pytest.mark.parametrize(
    ("language", "hours", "expected"),
    [
        ("es", 1, "1 hora"),
        ("es", 1.25, "1,25 horas"),
        ("es", 0.5, "0,5 horas"),
        ("es", 1234, "1.234 horas"),
        ("en", 1, "1 hour"),
        ("en", 1.25, "1.25 hours"),
        ("en", 1234, "1,234 hours"),
    ],
)
def test_the_hours_macro_writes_hours_as_the_certificate_does(
    language: str, hours: float, expected: str
) -> None:
    templates = Templates(ROOT / "templates", StaticAssets(ROOT / "static"))
    macro = templates.env.from_string('{% from "macros/ui.html" import hours %}{{ hours(h) }}')
    token = current_language.set(language)
    try:
        shown = macro.render(h=hours)
    finally:
        current_language.reset(token)
    assert shown == expected
    certificate = _hours_text(hours, language=language, labels=LABELS[language])
    assert certificate.replace("\u00a0", " ") == expected
