"""The interface messages of both languages, for the tests that look for one language's text
in the other's pages and strings (tests/browser/test_languages.py, tests/unit/test_plurals.py,
tests/web/test_counts.py)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "src" / "ecampus" / "locale"
TEMPLATE = LOCALE / "messages.pot"
SPANISH = LOCALE / "es" / "LC_MESSAGES" / "messages.po"
ENGLISH = LOCALE / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_ngettext": (1, 2)}


def texts(message_id: object) -> tuple[str, ...]:
    if isinstance(message_id, (list, tuple)):
        return tuple(str(t) for t in message_id if t)
    return (str(message_id),) if message_id else ()


def pattern(message: str) -> re.Pattern[str] | None:
    """A message as a whole text: placeholders match anything, a final colon or stop is optional.
    None for a message that is little more than placeholders (it would match anything)."""
    message = " ".join(message.replace("%%", "%").split()).rstrip(":.")
    parts = re.split(r"%\(\w+\)[sd]|%[sd]", message)
    if len("".join(parts).strip()) < 3:
        return None
    # A placeholder stands for a number, a name or a title: never a run of sentences.
    return re.compile("[^.;:]{1,200}?".join(re.escape(p) for p in parts) + r"[:.]?")


def catalogue(language: str) -> Catalog:
    with (LOCALE / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


@cache
def extracted() -> tuple[str | tuple[str, ...], ...]:
    """The interface messages in the code and templates now, as `make messages` extracts them
    (messages.pot may lag behind until it runs): a string, or (singular, plural) for ngettext."""
    found: dict[str | tuple[str, ...], None] = {}
    for folder, methods, options in (
        (
            "templates",
            [("**.html", "jinja2.ext:babel_extract")],
            {"**.html": {"extensions": "jinja2.ext.i18n"}},
        ),
        ("src", [("**.py", "python")], {}),
    ):
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / folder), methods, options, keywords=KEYWORDS
        ):
            found[message if isinstance(message, str) else tuple(message)] = None
    return tuple(found)


@cache
def source_messages() -> frozenset[str]:
    """The msgids of the interface messages in the code and templates now."""
    return frozenset(m if isinstance(m, str) else m[0] for m in extracted())


@cache
def catalogues() -> dict[str, tuple[re.Pattern[str], ...]]:
    """Per page language, the messages of the other language that must not appear in it.

    English msgids come from messages.pot, the Spanish catalogue and the code and templates
    themselves (the template lags behind until `make messages` runs again). Messages that read
    the same in both languages ("Diplomas", "Academia") are left out."""
    spanish = catalogue("es")
    with TEMPLATE.open("rb") as handle:
        template = read_po(handle)
    translations = {m.id if isinstance(m.id, str) else m.id[0]: m for m in spanish if m.id}
    english: set[str] = set()
    translated: set[str] = set()
    for message in [*template, *spanish]:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        known = translations.get(key)
        theirs = set(texts(known.string)) if known is not None else set()
        for text in texts(message.id):
            if text not in theirs:
                english.add(text)
        if known is not None:
            translated.update(t for t in texts(known.string) if t not in texts(known.id))
    english.update(m for m in source_messages() if m not in translations)
    return {
        "es": tuple(p for p in map(pattern, sorted(english)) if p),
        "en": tuple(p for p in map(pattern, sorted(translated)) if p),
    }


def foreign_messages(text: str, language: str) -> list[str]:
    """The parts of an interface text (whole, or between " · " and ": ") that are messages of
    the language other than `language`."""
    patterns = catalogues()[language]
    pieces = {text, *(p.strip(" ←→✓✗") for p in re.split(r" · |: ", text))}
    return sorted(p for p in pieces if p and any(rx.fullmatch(p) for rx in patterns))
