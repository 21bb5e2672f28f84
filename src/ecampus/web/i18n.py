"""Interface language: Babel message catalogues, chosen per request."""

from __future__ import annotations

import io
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
SUPPORTED = ("es", "en")
DEFAULT = "es"


@lru_cache(maxsize=8)
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of a language (compiled from its .po in memory, once)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


@lru_cache(maxsize=8)
def locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT)


def plural_count(value: float | Decimal, language: str) -> int:
    """The whole number to hand gettext for `value`: gettext's plural rules see only whole
    numbers, but "4,5 horas" and "0.5 hours" need the plural that CLDR gives the decimal."""
    if value == int(value):
        return int(value)
    form = locale(language).plural_form(Decimal(str(value)))
    return _sample_counts(language).get(form, 0)


@lru_cache(maxsize=8)
def _sample_counts(language: str) -> dict[str, int]:
    # The first whole number of each CLDR plural category, e.g. es: one 1, other 0, many 10**6.
    samples: dict[str, int] = {}
    for n in (*range(200), 1_000_000):
        samples.setdefault(locale(language).plural_form(n), n)
    return samples


def format_number(value: float | Decimal, language: str) -> str:
    """A count or quantity as the reader writes it: 4,5 and 1.000.000 in Spanish."""
    return format_decimal(value, locale=locale(language))


def negotiate(
    *candidates: str | None, accept_language: str | None = None, default: str = DEFAULT
) -> str:
    """The first supported language among explicit choices, then the Accept-Language header."""
    for candidate in candidates:
        if candidate:
            code = candidate.split("-")[0].lower()
            if code in SUPPORTED:
                return code
    if accept_language:
        weighted = []
        for part in accept_language.split(","):
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            weighted.append((weight, tag.split("-")[0].lower()))
        for _weight, code in sorted(weighted, key=lambda w: -w[0]):
            if code in SUPPORTED:
                return code
    return default if default in SUPPORTED else DEFAULT
