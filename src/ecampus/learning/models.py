from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from ecampus.dbtypes import utc_column


def _now() -> datetime:
    return datetime.now(UTC)


def _when(nullable: bool = False) -> Column:
    return utc_column(nullable=nullable)


class Cohort(SQLModel, table=True):
    """A group of learners a coordinator follows together, e.g. one diploma intake."""

    __tablename__ = "cohorts"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=_now, sa_column=_when())
    # A closed cohort takes no new members; its records stay.
    closed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class Enrollment(SQLModel, table=True):
    """A learner in a course; progress, status and score are kept current for reports."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        # Every column the dashboard's counts per (cohort, course) and completions over
        # time read, in that order: SQLite reads them from here, not the table, and groups
        # without sorting (reports.dashboard; migration 0005). SQLite only: PostgreSQL's
        # plans do not use it, and since it holds columns each progress write changes, it
        # would cost every write an index update there for nothing (and its HOT updates).
        Index(
            "ix_enrollments_report",
            "cohort_id",
            "course_id",
            "status",
            "last_activity_at",
            "score",
            "completed_at",
            "withdrawn_at",
            "user_id",
        ).ddl_if(dialect="sqlite"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    course_id: str = Field(max_length=80, index=True)
    cohort_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("cohorts.id", ondelete="SET NULL"), index=True),
    )
    enrolled_at: datetime = Field(default_factory=_now, sa_column=_when())
    progress: int = Field(default=0)
    status: str = Field(default="not_started", max_length=20)
    score: float | None = Field(default=None)
    last_item_id: str | None = Field(default=None, max_length=80)
    last_activity_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True, index=True)
    )
    completed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    # A withdrawn enrolment (a mistake, a drop-out) is kept with who and when, but no
    # longer counted; enrolling again clears it.
    withdrawn_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True, index=True)
    )
    withdrawn_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )


class ItemProgress(SQLModel, table=True):
    """One row per learner, course and item: a lesson read or a quiz's best result."""

    __tablename__ = "item_progress"
    __table_args__ = (UniqueConstraint("user_id", "course_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    course_id: str = Field(max_length=80)
    item_id: str = Field(max_length=80)
    kind: str = Field(max_length=10)  # lesson | quiz
    completed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    best_score: float | None = Field(default=None)
    passed: bool = Field(default=False)
    content_version: str = Field(max_length=32)
    updated_at: datetime = Field(default_factory=_now, sa_column=_when())
