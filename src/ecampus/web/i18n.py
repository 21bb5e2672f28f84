"""Interface language: Babel message catalogues, chosen per request."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_decimal

# The catalogues themselves are domain-neutral (the validator speaks the reader's language
# too); this module adds what pages need: negotiation, plurals of decimals, numbers.
from ecampus.i18n import DEFAULT, LOCALE_DIR, SUPPORTED, locale, translations

__all__ = [
    "DEFAULT",
    "LOCALE_DIR",
    "SUPPORTED",
    "format_number",
    "locale",
    "negotiate",
    "plural_count",
    "translations",
]


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
