"""Completion report rows: one query over enrolments, learners, cohorts and certificates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, select
from sqlalchemy.types import String
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


_E = Enrollment.__table__  # type: ignore[attr-defined]
_U = User.__table__  # type: ignore[attr-defined]
_C = Cohort.__table__  # type: ignore[attr-defined]
_CERT = Certificate.__table__  # type: ignore[attr-defined]


def conditions(filters: Filters, *, withdrawn: bool = True) -> list[ColumnElement[bool]]:
    """The WHERE of a report on `filters`, over enrolments joined to their learners when
    `reads_learners()` says so: the report, its summary and the dashboard share it.

    With `withdrawn` (the report and its summary), `status=withdrawn` selects the withdrawn
    enrolments and any other status the others; without it (the dashboard), withdrawn
    enrolments are never counted, so `status=withdrawn` selects nothing."""
    where: list[ColumnElement[bool]] = []
    if filters.status == WITHDRAWN:
        where.append(_E.c.withdrawn_at.is_not(None) if withdrawn else false())
    else:
        where.append(_E.c.withdrawn_at.is_(None))
        if filters.status:
            where.append(_E.c.status == filters.status)
    if filters.course:
        where.append(_E.c.course_id == filters.course)
    if filters.courses:
        where.append(_E.c.course_id.in_(filters.courses))
    if filters.programme:
        where.append(_E.c.course_id.in_(filters.programme_courses))
    if filters.cohort:
        # The cohort's id by its (unique) code: no join, and no cohort means no rows.
        where.append(
            _E.c.cohort_id
            == select(_C.c.id)
            .where(_C.c.code == filters.cohort)
            .correlate(None)  # its own FROM, even in a query that joins the cohorts
            .scalar_subquery()
        )
    if filters.country:
        where.append(_U.c.country == filters.country.upper())
    if filters.institution_type:
        where.append(_U.c.institution_type == filters.institution_type)
    column = {"completed_at": _E.c.completed_at, "last_activity_at": _E.c.last_activity_at}.get(
        filters.date_field, _E.c.enrolled_at
    )
    # Local days become UTC bounds, so the stored UTC column is compared as it is (indexes
    # stay usable) rather than converted on every row.
    start, end = day_bounds(filters.since, filters.until, filters.zone or get_settings().zone)
    if start is not None:
        where.append(column >= start)
    elif filters.since:
        where.append(column.is_not(None))
    if end is not None:
        where.append(column < end)
    elif filters.until:
        where.append(column.is_not(None))
    return where


def reads_learners(filters: Filters) -> bool:
    """Whether `conditions(filters)` reads a learner's column (so needs the join)."""
    return bool(filters.country or filters.institution_type)


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
    statement = statement.where(*conditions(filters))
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


def summary(session: Session, filters: Filters, catalogue: Catalogue) -> dict[str, Any]:
    """Counts for the coordinator, per course and per status, over the report's rows: one
    grouped query (course, status, country), so no report row reaches Python. The same
    figures as summing `report_rows()` (tests/web/test_reports.py checks both)."""
    certificate = _CERT.alias("certificate")
    status = case((_E.c.withdrawn_at.is_not(None), literal(WITHDRAWN, String)), else_=_E.c.status)
    statement = (
        select(
            _E.c.course_id,
            status.label("status"),
            _U.c.country,
            func.count().label("enrolled"),
            func.count(certificate.c.id).label("certificates"),
        )
        .select_from(
            _E.join(_U, _U.c.id == _E.c.user_id).outerjoin(
                # At most one valid certificate per learner and course (uq_certificates_current).
                certificate,
                and_(
                    certificate.c.user_id == _E.c.user_id,
                    certificate.c.kind == "course",
                    certificate.c.subject_id == _E.c.course_id,
                    certificate.c.revoked_at.is_(None),
                ),
            )
        )
        .where(*conditions(filters))
        .group_by(_E.c.course_id, status, _U.c.country)
    )
    titles = {c.id: c.title for c in catalogue.courses.values()}
    per_course: dict[str, dict[str, Any]] = {}
    countries: set[str] = set()
    for row in session.execute(statement):
        entry = per_course.setdefault(
            row.course_id,
            {"course": row.course_id, "title": titles.get(row.course_id, row.course_id),
             "enrolled": 0, "not_started": 0, "in_progress": 0, "completed": 0,
             "certificates": 0},
        )  # fmt: skip
        entry["enrolled"] += int(row.enrolled)
        entry[row.status] = entry.get(row.status, 0) + int(row.enrolled)
        entry["certificates"] += int(row.certificates)
        if row.country:
            countries.add(row.country)
    courses = sorted(
        per_course.values(), key=lambda entry: (entry["title"].casefold(), entry["course"])
    )
    return {
        "courses": courses,
        "enrolled": sum(e["enrolled"] for e in courses),
        "completed": sum(e["completed"] for e in courses),
        "countries": sorted(countries),
    }
