"""Checking each row of a participants' list with the rules registration uses: the same
email parsing, the same name and line rules (ecampus.text), countries as ISO codes or as
names in Spanish or English, institution types as values or labels. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pycountry
from email_validator import EmailNotValidError, validate_email

from ecampus import countries, text
from ecampus.accounts import service as accounts
from ecampus.accounts.models import InstitutionType
from ecampus.accounts.schemas import LANGUAGES
from ecampus.i18n import N_, Message
from ecampus.onboarding.sheet import FIELDS, REQUIRED, Sheet, fold

MAX_LENGTH = {"email": 254, "full_name": 200, "institution": 200}

_INSTITUTION_TYPES: dict[str, str] = {
    **{fold(t.value): t.value for t in InstitutionType},
    # The labels the pages show, in Spanish and English, and what people write instead.
    "gobierno": "government",
    "sector_publico": "government",
    "sociedad_civil": "civil_society",
    "ong": "civil_society",
    "academia": "academia",
    "universidad": "academia",
    "academic": "academia",
    "organismo_internacional": "international",
    "organizacion_internacional": "international",
    "international_organisation": "international",
    "international_organization": "international",
    "otro": "other",
    "otra": "other",
}
_LANGUAGES: dict[str, str] = {
    "es": "es",
    "espanol": "es",
    "castellano": "es",
    "spanish": "es",
    "en": "en",
    "ingles": "en",
    "english": "en",
}


@dataclass(frozen=True, slots=True)
class Participant:
    row: int
    email: str
    full_name: str
    institution: str
    institution_type: str
    country: str
    language: str


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str  # the header as written in the file
    field: str
    message: Message


@dataclass
class Checked:
    participants: list[Participant]
    errors: list[RowError]
    rows: int  # data rows read (blank ones left out)

    def invalid_rows(self) -> set[int]:
        return {e.row for e in self.errors if e.row != 1}


@cache
def _country_names() -> dict[str, str]:
    """Folded country names (CLDR Spanish and English, ISO names) and alpha-3 codes -> code."""
    found: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        found[fold(country.alpha_3)] = code
        for attribute in ("name", "official_name", "common_name"):
            if value := getattr(country, attribute, None):
                found.setdefault(fold(value), code)
    for language in ("en", "es"):
        for code, name in countries.names(language).items():
            found[fold(name)] = code
    return found


def country_code(value: str) -> str | None:
    """The ISO 3166-1 alpha-2 code a cell names: a code (GT, GTM) or a name (Guatemala,
    México, Mexico, Estados Unidos, United States)."""
    return countries.normalise(value) or _country_names().get(fold(value))


def check(sheet: Sheet) -> Checked:
    """Every row as a Participant, or its errors; a repeated email is an error on its later
    row. The header's problems come first, as errors of row 1."""
    errors = [RowError(p.row, p.column, p.column, p.message) for p in sheet.problems]
    participants: list[Participant] = []
    first_row: dict[str, int] = {}
    missing = {name for name in REQUIRED if name not in sheet.headers}
    for number, cells in sheet.rows:
        found: list[RowError] = []
        values: dict[str, str] = {}
        for name in FIELDS:
            if name in missing:
                continue  # reported once, on the header row
            try:
                values[name] = _clean(name, cells.get(name, ""))
            except ValueError as exc:
                message = exc.args[0] if isinstance(exc.args[0], Message) else _plain(exc)
                found.append(RowError(number, sheet.column(name), name, message))
        email = values.get("email")
        if email:
            if email in first_row:
                found.append(
                    RowError(
                        number,
                        sheet.column("email"),
                        "email",
                        Message(
                            N_("%(email)s is repeated: it is already on row %(row)s."),
                            {"email": email, "row": first_row[email]},
                        ),
                    )
                )
            else:
                first_row[email] = number
        if found or missing:
            errors.extend(found)
            continue
        participants.append(Participant(row=number, **values))
    return Checked(participants=participants, errors=errors, rows=len(sheet.rows))


def _plain(exc: ValueError) -> Message:
    # ecampus.text speaks English sentences ("must have at least 2 characters").
    return Message(N_("Not valid: %(reason)s."), {"reason": str(exc)})


def _clean(name: str, raw: str) -> str:
    value = text.clean_line(raw) if raw else ""
    if len(value) > MAX_LENGTH.get(name, 200):
        raise ValueError(
            Message(N_("Too long: at most %(max)s characters."), {"max": MAX_LENGTH.get(name, 200)})
        )
    if name == "email":
        return _email(value)
    if name == "full_name":
        if not value:
            raise ValueError(Message(N_("A name is required.")))
        return text.clean_person_name(value)
    if name == "institution_type":
        if not value:
            return InstitutionType.other.value
        if (kind := _INSTITUTION_TYPES.get(fold(value))) is None:
            raise ValueError(
                Message(
                    N_(
                        "Unknown institution type %(value)s: write government, civil_society, "
                        "academia, international or other (or Gobierno, Sociedad civil, "
                        "Academia, Organismo internacional, Otro)."
                    ),
                    {"value": value},
                )
            )
        return kind
    if name == "country":
        if not value:
            raise ValueError(Message(N_("A country is required.")))
        if (code := country_code(value)) is None:
            raise ValueError(
                Message(
                    N_(
                        "Unknown country %(value)s: write an ISO code such as GT or a name "
                        "such as Guatemala."
                    ),
                    {"value": value},
                )
            )
        return code
    if name == "language":
        if not value:
            return LANGUAGES[0]
        if (language := _LANGUAGES.get(fold(value))) is None:
            raise ValueError(
                Message(N_("Unknown language %(value)s: write es or en."), {"value": value})
            )
        return language
    return value


def _email(value: str) -> str:
    if not value:
        raise ValueError(Message(N_("An email is required.")))
    try:
        email = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError(
            Message(
                N_("%(value)s is not a valid email address (e.g. nombre@institucion.gob.gt)."),
                {"value": value},
            )
        ) from None
    # Stored and looked up as registration stores it (NFC, Unicode domain, lower case).
    return accounts.normalise_email(email)
