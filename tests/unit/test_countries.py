"""The country list: ISO 3166-1 only, CLDR names, each language's collation."""

from __future__ import annotations

import pytest

from ecampus import countries


def codes(language: str) -> list[str]:
    return [c.code for c in countries.countries(language)]


def names(language: str) -> list[str]:
    return [c.name for c in countries.countries(language)]


def test_every_iso_3166_1_country_and_nothing_else() -> None:
    assert len(countries.CODES) == 249
    assert {"GT", "SV", "HN", "NI", "CR", "PA", "BZ", "MX", "US", "ES", "PS", "TW"} <= (
        countries.CODES
    )
    for language in ("es", "en"):
        assert set(codes(language)) == countries.CODES
        assert len(codes(language)) == len(countries.CODES)  # each once


# Canarias, Ceuta y Melilla, Diego García, Ascension, Clipperton, Tristan da Cunha, Sark
PARTS_OF_COUNTRIES = ["IC", "EA", "DG", "AC", "CP", "TA", "CQ"]
# unions, CLDR's pseudo-locales and unknown region, a user-assigned code, Latin America
NOT_COUNTRIES = ["EU", "EZ", "UN", "QO", "XA", "XB", "ZZ", "XK", "419"]


@pytest.mark.parametrize("code", PARTS_OF_COUNTRIES + NOT_COUNTRIES)
def test_regions_that_are_not_countries_are_left_out(code: str) -> None:
    assert code not in countries.CODES
    assert countries.normalise(code) is None
    for language in ("es", "en"):
        assert code not in codes(language)


def test_no_region_names_in_the_lists() -> None:
    assert "Canarias" not in names("es")
    assert "Diego García" not in names("es")
    assert "Ceuta y Melilla" not in names("es")
    assert "Latinoamérica" not in names("es")
    assert "Canary Islands" not in names("en")


def test_names_come_from_cldr_in_the_readers_language() -> None:
    assert countries.name("GT", "es") == "Guatemala"
    assert countries.name("MX", "es") == "México"
    assert countries.name("DE", "es") == "Alemania"
    assert countries.name("DE", "en") == "Germany"
    assert countries.name("pa", "es") == "Panamá"  # codes in any case
    assert countries.name("IC", "es") == "IC"  # an old record keeps its code
    assert countries.name("", "es") == ""
    # A language Babel does not know falls back to English rather than failing.
    assert countries.name("DE", "xx") == "Germany"


def before(language: str, *ordered: str) -> bool:
    listed = names(language)
    positions = [listed.index(n) for n in ordered]
    return positions == sorted(positions)


def test_spanish_order_follows_spanish_collation() -> None:
    # Accents are secondary differences: México sorts with the Me-, Mónaco with the Mo-.
    assert before("es", "Malta", "México", "Micronesia", "Mónaco", "Mongolia", "Myanmar (Birmania)")
    assert before("es", "Barbados", "Bélgica", "Belice", "Bután")
    assert before("es", "Eslovenia", "España", "Estados Unidos", "Estonia")
    assert before("es", "Tailandia", "Túnez", "Turquía", "Ucrania")
    assert names("es")[0] == "Afganistán"
    assert names("es")[-1] == "Zimbabue"


def test_english_order_follows_english_collation() -> None:
    # Å sorts with A (not after Z, as code points would put it).
    assert before("en", "Afghanistan", "Åland Islands", "Albania")
    assert before("en", "Belgium", "Belize", "Bhutan")
    assert before("en", "Mexico", "Micronesia", "Monaco", "Myanmar (Burma)")
    assert before("en", "Côte d’Ivoire", "Croatia", "Cuba", "Curaçao")
    assert names("en")[-1] == "Zimbabwe"


def test_central_america_and_mexico_come_first() -> None:
    choices = countries.choices("es")
    assert [c.code for c in choices.nearby] == ["GT", "SV", "HN", "NI", "CR", "PA", "BZ", "MX"]
    assert [c.name for c in choices.nearby][:3] == ["Guatemala", "El Salvador", "Honduras"]
    assert choices.everyone == countries.countries("es")
    assert [c.name for c in countries.choices("en").nearby][-2:] == ["Belize", "Mexico"]


def test_lists_are_cached_per_language() -> None:
    assert countries.countries("es") is countries.countries("es")
    assert countries.choices("en") is countries.choices("en")


@pytest.mark.parametrize(
    ("value", "code"),
    [("GT", "GT"), (" hn ", "HN"), ("mx", "MX"), ("Ho", None), ("HND", None), ("", None)],
)
def test_normalise(value: str, code: str | None) -> None:
    assert countries.normalise(value) == code
