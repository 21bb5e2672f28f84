from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, text
from sqlmodel import Field, SQLModel

from ecampus.dbtypes import utc_column


def _now() -> datetime:
    return datetime.now(UTC)


class Certificate(SQLModel, table=True):
    """What was certified, frozen at issue time so later course edits never change it."""

    __tablename__ = "certificates"
    # At most one valid certificate per learner and course (or programme), even when two
    # completions race; revoked ones are kept beside it as history.
    __table_args__ = (
        Index(
            "uq_certificates_current",
            "user_id",
            "kind",
            "subject_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(default="course", max_length=10)  # course | programme
    subject_id: str = Field(max_length=80, index=True)  # course or programme id
    learner_name: str = Field(max_length=200)
    title: str = Field(max_length=300)
    hours: float
    score: float | None = Field(default=None)
    language: str = Field(default="es", max_length=10)
    content_version: str = Field(default="", max_length=32)
    issued_at: datetime = Field(default_factory=_now, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    revoked_reason: str | None = Field(default=None, max_length=500)
