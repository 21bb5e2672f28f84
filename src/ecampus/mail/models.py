from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from ecampus.dbtypes import utc_column


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxMail(SQLModel, table=True):
    """One message to send. pending → sent, or failing (with the server's answer) and
    retried at next_attempt_at until it is accepted."""

    __tablename__ = "mail_outbox"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column())
    recipient: str = Field(max_length=254, index=True)
    language: str = Field(default="es", max_length=10)
    kind: str = Field(max_length=30)  # invitation | password_reset | ...
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=10, index=True)  # pending|sent|failing
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime = Field(default_factory=_now, sa_column=utc_column(index=True))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
