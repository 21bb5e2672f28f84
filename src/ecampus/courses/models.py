from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ecampus.dbtypes import utc_column


def _now() -> datetime:
    return datetime.now(UTC)


class CourseVersion(SQLModel, table=True):
    """Each distinct content version of a course the app has served."""

    __tablename__ = "course_versions"
    __table_args__ = (UniqueConstraint("course_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    course_id: str = Field(max_length=80, index=True)
    version: str = Field(max_length=32)
    title: str = Field(max_length=300)
    item_ids: str = Field(default="")  # space-separated, in order: what "complete" meant
    loaded_at: datetime = Field(default_factory=_now, sa_column=utc_column())
