"""Completion report rows: one query over enrolments, learners, cohorts and certificates."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import and_, select
from sqlmodel import Session

from ecampus.accounts.models import User
from ecampus.certificates.models import Certificate
from ecampus.courses.catalog import Catalogue
from ecampus.learning.models import Cohort, Enrollment
from ecampus.localtime import day_bounds
from ecampus.settings import get_settings

COLUMNS: tuple[tuple[str, str], ...] = (
    ("learner", "learner"),
    ("email", "email"),
    ("institution", "institution"),
    ("institution_type", "institution_type"),
    ("country", "country"),
    ("course", "course"),
    ("course_title", "course_title"),
    ("cohort", "cohort"),
    ("enrolled_at", "enrolled_at"),
    ("progress", "progress"),
    ("score", "score"),
    ("status", "status"),
    ("completed_at", "completed_at"),
    ("certificate", "certificate"),
    ("course_group", "course_group"),
    ("last_activity_at", "last_activity_at"),
    ("withdrawn_at", "withdrawn_at"),
)
DATE_FIELDS = ("enrolled_at", "completed_at", "last_activity_at")
# An enrolment's status in a report: its progress, or `withdrawn` (kept for the record, no
# longer counted, and shown only when asked for).
WITHDRAWN = "withdrawn"
STATUSES = ("not_started", "in_progress", "completed", WITHDRAWN)


@dataclass(frozen=True, slots=True)
class Filters:
    course: str | None = None
    courses: tuple[str, ...] = ()  # a course and its translations (course_group)
    cohort: str | None = None
    country: str | None = None
    institution_type: str | None = None
    programme: str | None = None
    programme_courses: tuple[str, ...] = ()  # the programme's courses, from the catalogue
    status: str | None = None  # one of STATUSES; None: every status but withdrawn
    since: date | None = None  # inclusive, a local day in `zone`
    until: date | None = None  # inclusive, a local day in `zone`
    date_field: str = "enrolled_at"
    zone: tzinfo | None = None  # the institution's calendar; None: ECAMPUS_TIMEZONE


def completions(
    session: Session,
    *,
    filters: Filters,
    titles: Mapping[str, str],
    groups: Mapping[str, str] | None = None,
    batch: int = 1000,
) -> Iterator[dict[str, Any]]:
    """Stream report rows in enrolment order, fetched in batches to bound memory."""
    e, u, c, cert = (
        Enrollment.__table__,  # type: ignore[attr-defined]
        User.__table__,  # type: ignore[attr-defined]
        Cohort.__table__,  # type: ignore[attr-defined]
        Certificate.__table__,  # type: ignore[attr-defined]
    )
    statement = (
        select(
            u.c.full_name,
            u.c.email,
            u.c.institution,
            u.c.institution_type,
            u.c.country,
            e.c.course_id,
            c.c.code,
            e.c.enrolled_at,
            e.c.progress,
            e.c.score,
            e.c.status,
            e.c.completed_at,
            cert.c.code,
            e.c.last_activity_at,
            e.c.withdrawn_at,
        )
        .select_from(
            e.join(u, u.c.id == e.c.user_id)
            .outerjoin(c, c.c.id == e.c.cohort_id)
            .outerjoin(
                cert,
                and_(
                    cert.c.user_id == e.c.user_id,
                    cert.c.subject_id == e.c.course_id,
                    cert.c.kind == "course",
                    cert.c.revoked_at.is_(None),
                ),
            )
        )
        .order_by(e.c.enrolled_at, e.c.id)
    )
    if filters.status == WITHDRAWN:
        statement = statement.where(e.c.withdrawn_at.is_not(None))
    else:
        statement = statement.where(e.c.withdrawn_at.is_(None))
        if filters.status:
            statement = statement.where(e.c.status == filters.status)
    if filters.course:
        statement = statement.where(e.c.course_id == filters.course)
    if filters.courses:
        statement = statement.where(e.c.course_id.in_(filters.courses))
    if filters.programme:
        statement = statement.where(e.c.course_id.in_(filters.programme_courses))
    if filters.cohort:
        statement = statement.where(c.c.code == filters.cohort)
    if filters.country:
        statement = statement.where(u.c.country == filters.country.upper())
    if filters.institution_type:
        statement = statement.where(u.c.institution_type == filters.institution_type)
    column = {"completed_at": e.c.completed_at, "last_activity_at": e.c.last_activity_at}.get(
        filters.date_field, e.c.enrolled_at
    )
    # Local days become UTC bounds, so the stored UTC column is compared as it is (indexes
    # stay usable) rather than converted on every row.
    start, end = day_bounds(filters.since, filters.until, filters.zone or get_settings().zone)
    if start is not None:
        statement = statement.where(column >= start)
    elif filters.since:
        statement = statement.where(column.is_not(None))
    if end is not None:
        statement = statement.where(column < end)
    elif filters.until:
        statement = statement.where(column.is_not(None))
    result = session.execute(statement.execution_options(yield_per=batch))
    for row in result:
        yield {
            "learner": row[0],
            "email": row[1],
            "institution": row[2],
            "institution_type": row[3],
            "country": row[4],
            "course": row[5],
            "course_title": titles.get(row[5], row[5]),
            "cohort": row[6],
            "enrolled_at": row[7],
            "progress": row[8],
            "score": row[9],
            "status": WITHDRAWN if row[14] is not None else row[10],
            "completed_at": row[11],
            "certificate": row[12],
            "course_group": (groups or {}).get(row[5], row[5]),
            "last_activity_at": row[13],
            "withdrawn_at": row[14],
        }


def report_rows(
    session: Session, filters: Filters, catalogue: Catalogue
) -> Iterator[dict[str, Any]]:
    """Report rows labelled with the current course titles and translation groups (the
    API and the coordinator pages read the same rows)."""
    courses = catalogue.courses.values()
    return completions(
        session,
        filters=filters,
        titles={c.id: c.title for c in courses},
        groups={c.id: catalogue.group_key(c.id) for c in courses},
    )


def summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts for the coordinator dashboard, per course and per status."""
    per_course: dict[str, dict[str, Any]] = {}
    countries: set[str] = set()
    for row in rows:
        entry = per_course.setdefault(
            row["course"],
            {"course": row["course"], "title": row["course_title"], "enrolled": 0,
             "not_started": 0, "in_progress": 0, "completed": 0, "certificates": 0},
        )  # fmt: skip
        entry["enrolled"] += 1
        entry[row["status"]] = entry.get(row["status"], 0) + 1
        entry["certificates"] += 1 if row["certificate"] else 0
        if row["country"]:
            countries.add(row["country"])
    courses = sorted(per_course.values(), key=lambda entry: entry["title"].casefold())
    return {
        "courses": courses,
        "enrolled": sum(e["enrolled"] for e in courses),
        "completed": sum(e["completed"] for e in courses),
        "countries": sorted(countries),
    }
