"""What a new account must provide, validated the same way for the API and the HTML form."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from ecampus import countries, text
from ecampus.accounts import passwords
from ecampus.accounts.models import InstitutionType, Role

LANGUAGES = ("es", "en")

# NFC, no invisible characters at the edges, letters required: a name made of zero-width
# spaces would print a blank certificate.
Name = Annotated[str, StringConstraints(max_length=200), AfterValidator(text.clean_person_name)]


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    password: str = Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)
    full_name: Name = Field(description="Exactly as it should appear on certificates.")
    institution: text.Line = Field(default="", max_length=200)
    institution_type: InstitutionType = InstitutionType.other
    country: str = Field(description="ISO 3166-1 alpha-2 code, e.g. GT.")
    language: str = Field(default="es", description="es or en.")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        code = countries.normalise(value)
        if code is None:
            raise ValueError(
                f"{value.strip()[:40]!r} is not an ISO 3166-1 alpha-2 country code; "
                "send a code such as GT, SV, HN, NI, CR, PA, BZ or MX"
            )
        return code

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        code = value.strip().lower()
        if code not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return code


class UserOut(BaseModel):
    id: int
    email: str
    full_name: str
    institution: str
    institution_type: str
    country: str
    language: str
    role: Role


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
