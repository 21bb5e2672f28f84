from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from ecampus.dbtypes import utc_column


def _now() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    learner = "learner"
    author = "author"
    coordinator = "coordinator"
    admin = "admin"


class InstitutionType(StrEnum):
    government = "government"
    civil_society = "civil_society"
    academia = "academia"
    international = "international"
    other = "other"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    full_name: str = Field(max_length=200)
    institution: str = Field(default="", max_length=200)
    institution_type: str = Field(default=InstitutionType.other.value, max_length=20, index=True)
    country: str = Field(default="", max_length=2, index=True)
    language: str = Field(default="es", max_length=10)
    role: str = Field(default=Role.learner.value, max_length=20)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column())
