"""What a correction may send, validated alike for the API and the pages."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from ecampus import text
from ecampus.accounts.schemas import Name

# Enough for any mistake; a quiz that needs more is a quiz to change.
MAX_EXTRA_ATTEMPTS = 20


def _cohort_name(value: str) -> str:
    value = text.clean_line(value)
    if len(value) < 2:
        raise ValueError("must have at least 2 characters")
    return value


CohortName = Annotated[str, StringConstraints(max_length=200), AfterValidator(_cohort_name)]


class UserUpdateIn(BaseModel):
    """A participant's name or email, checked as registration checks them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: Name | None = Field(
        default=None, description="Exactly as it should appear on future certificates."
    )
    email: EmailStr | None = None


class CohortUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: CohortName | None = None
    closed: bool | None = Field(
        default=None, description="true closes the cohort (no new enrolments); false reopens it."
    )


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cohort: str | None = Field(description="The code of the cohort; null for none.")


class ExtraAttemptsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    count: int = Field(ge=1, le=MAX_EXTRA_ATTEMPTS)
