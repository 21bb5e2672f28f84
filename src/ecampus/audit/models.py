from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from ecampus.dbtypes import utc_column


def _now() -> datetime:
    return datetime.now(UTC)


class AuditEntry(SQLModel, table=True):
    """One staff action. The actor's email is copied, so the entry outlives the account."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=_now, sa_column=utc_column(index=True))
    actor_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    actor: str = Field(max_length=254, index=True)  # email, or "cli" / "system"
    action: str = Field(max_length=60, index=True)  # e.g. enrolment.withdraw
    subject: str = Field(max_length=300)  # e.g. the learner's email, a cohort code
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
