from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, LargeBinary, Text, text
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
    # Reissued: the code that replaced this one (the old code then reads "superseded").
    superseded_by: str | None = Field(default=None, max_length=20)
    superseded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Frozen at issue: who issued it (issuer.yaml as resolved for the course or programme)
    # and, for a diploma, the courses it counts ([{course_id, title, hours, code}]).
    issuer: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    courses: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class CertificatePart(SQLModel, table=True):
    """A course certificate a diploma counted: revoking it revokes the diploma."""

    __tablename__ = "certificate_parts"

    diploma_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("certificates.id", ondelete="CASCADE"), primary_key=True
        )
    )
    certificate_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("certificates.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )


class CertificateFile(SQLModel, table=True):
    """The PDF of an issued certificate, rendered once and kept; `revoked` says whether the
    kept copy already carries the revocation mark."""

    __tablename__ = "certificate_files"

    certificate_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("certificates.id", ondelete="CASCADE"), primary_key=True
        )
    )
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    rendered_at: datetime = Field(default_factory=_now, sa_column=utc_column())
    revoked: bool = Field(default=False)


class SigningKey(SQLModel, table=True):
    """A credential signing key (ES256). The newest unretired key signs; retired keys stay
    published in the JWKS so that what they signed keeps verifying."""

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(default="ES256", max_length=10)
    private_pem: str = Field(sa_column=Column(Text, nullable=False))
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=_now, sa_column=utc_column())
    retired_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
