from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer
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
    # Ids are never reused (SQLite would hand a deleted user's id to the next account).
    __table_args__ = {"sqlite_autoincrement": True}

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
    # Raised to end every session at once (password change or reset, deactivation).
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column())


class UserSession(SQLModel, table=True):
    """One sign-in. Its tokens (renewed while the person is active) name it by `sid`; it
    counts only while not revoked, not expired, and made under the account's current
    session_version."""

    __tablename__ = "user_sessions"

    id: str = Field(primary_key=True, max_length=32)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    version: int
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column(index=True))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class AccountToken(SQLModel, table=True):
    """A one-time link: a password reset (60 minutes) or an invitation to set a first
    password. Only the SHA-256 of the token is kept; using one ends every other."""

    __tablename__ = "account_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    purpose: str = Field(max_length=20)  # reset | invitation
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
