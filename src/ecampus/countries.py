"""Countries as people expect them: ISO 3166-1 codes, CLDR names in the reader's language,
sorted by that language's collation, with the region's own countries within easy reach."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import pycountry
from babel import Locale, UnknownLocaleError
from pyuca import Collator

# ISO 3166-1 alone: CLDR also names regions ("419"), unions (EU, UN), parts of countries
# (IC Canarias, EA Ceuta y Melilla, DG Diego García) and user-assigned codes (XK), which
# are not countries a person registers from and which no other system would understand.
CODES: frozenset[str] = frozenset(country.alpha_2 for country in pycountry.countries)
# Central America (SICA order) and Mexico: where most learners and participants come from.
NEARBY: tuple[str, ...] = ("GT", "SV", "HN", "NI", "CR", "PA", "BZ", "MX")
_FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Choices:
    """What a country select offers: the nearby countries first, then every country."""

    nearby: tuple[Country, ...]
    everyone: tuple[Country, ...]


def normalise(value: str) -> str | None:
    """The ISO 3166-1 alpha-2 code written in `value` (any case, outer spaces), or None."""
    code = value.strip().upper()
    return code if code in CODES else None


@cache
def collator() -> Collator:
    # The Unicode Collation Algorithm's default order (DUCET) is the CLDR root order, which is
    # English's and Spanish's too, except for Spanish ñ after n: no country name needs that rule
    # (España is the only one with ñ, and it differs from its neighbours before the ñ).
    return Collator()


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse(_FALLBACK_LANGUAGE)


@lru_cache(maxsize=16)
def names(language: str) -> dict[str, str]:
    """Every country's name in `language` (CLDR), by code."""
    territories = _locale(language).territories
    fallback = _locale(_FALLBACK_LANGUAGE).territories
    return {code: str(territories.get(code) or fallback.get(code) or code) for code in CODES}


def name(code: str, language: str) -> str:
    """A country's name in `language`; an unknown code (an old record) is shown as it is."""
    return names(language).get(code.strip().upper(), code) if code else ""


@lru_cache(maxsize=16)
def countries(language: str) -> tuple[Country, ...]:
    """Every country, sorted as a reader of `language` expects (México, Mónaco, Myanmar)."""
    sort_key = collator().sort_key
    return tuple(
        Country(code, label)
        for code, label in sorted(
            names(language).items(), key=lambda pair: (sort_key(pair[1]), pair[0])
        )
    )


@lru_cache(maxsize=16)
def choices(language: str) -> Choices:
    label = names(language)
    return Choices(
        nearby=tuple(Country(code, label[code]) for code in NEARBY),
        everyone=countries(language),
    )
