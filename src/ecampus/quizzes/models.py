from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from ecampus.dbtypes import utc_column


def _now() -> datetime:
    return datetime.now(UTC)


class Attempt(SQLModel, table=True):
    """One submitted quiz, with the rule (pass mark, content version) in force at the time."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("user_id", "course_id", "item_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    course_id: str = Field(max_length=80, index=True)
    item_id: str = Field(max_length=80)
    number: int
    answers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    results: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    score: float
    passed: bool
    pass_mark: float
    content_version: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column())


class AttemptGrant(SQLModel, table=True):
    """Extra attempts at one quiz for one learner, granted by a coordinator."""

    __tablename__ = "attempt_grants"
    __table_args__ = (Index("ix_attempt_grants_learner_item", "user_id", "course_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    course_id: str = Field(max_length=80)
    item_id: str = Field(max_length=80)
    count: int
    granted_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    granted_at: datetime = Field(default_factory=_now, sa_column=utc_column())
