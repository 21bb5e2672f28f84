"""Programme tracking: one row per participant and programme, counted in one grouped query.

A participant is a learner with an enrolment (not withdrawn) in at least one course of the
programme. Their courses and hours completed are summed by the database; the diploma is
their valid programme certificate, if any.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.types import Float, String
from sqlmodel import Session

from ecampus.accounts.models import User
from ecampus.certificates.models import Certificate
from ecampus.courses.content import CourseContent, ProgrammeContent
from ecampus.learning.models import Cohort, Enrollment
from ecampus.reports.queries import driver_columns, unindexed

COLUMNS: tuple[tuple[str, str], ...] = (
    ("learner", "learner"),
    ("email", "email"),
    ("institution", "institution"),
    ("institution_type", "institution_type"),
    ("country", "country"),
    ("cohort", "cohort"),
    ("programme", "programme"),
    ("programme_title", "programme_title"),
    ("courses_completed", "courses_completed"),
    ("courses_total", "courses_total"),
    ("hours_completed", "hours_completed"),
    ("hours_total", "hours_total"),
    ("status", "status"),
    ("last_activity_at", "last_activity_at"),
    ("diploma", "diploma"),
    ("completed_at", "completed_at"),
)
STATUSES = ("not_started", "in_progress", "completed")
# Up to this many members, a cohort's learners are passed to the query by id (SQLite takes
# at most 32,766 parameters).
MEMBERS_LISTED = 5000

_E = Enrollment.__table__  # type: ignore[attr-defined]
_U = User.__table__  # type: ignore[attr-defined]
_C = Cohort.__table__  # type: ignore[attr-defined]
_CERT = Certificate.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ProgrammeFilters:
    programme: str | None = None
    cohort: str | None = None
    country: str | None = None
    institution_type: str | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the report needs to know of each programme: its courses and their hours."""

    programme: ProgrammeContent
    hours: dict[str, float]

    @property
    def hours_total(self) -> float:
        return round(sum(self.hours.values()), 2)


def _plans(
    programmes: Sequence[ProgrammeContent], courses: dict[str, CourseContent]
) -> list[_Plan]:
    # A course the catalogue no longer serves still counts, with no hours (the diploma rule
    # names it, so it is still needed).
    return [
        _Plan(p, {c: courses[c].hours if c in courses else 0.0 for c in p.courses})
        for p in programmes
    ]


def programme_rows(
    session: Session,
    *,
    programmes: Sequence[ProgrammeContent],
    courses: dict[str, CourseContent],
    filters: ProgrammeFilters,
    batch: int = 1000,
) -> Iterator[dict[str, Any]]:
    """Stream one row per participant and programme, ordered by programme, cohort and name."""
    plans = [p for p in _plans(programmes, courses) if p.hours]
    if filters.programme:
        plans = [p for p in plans if p.programme.id == filters.programme]
    if not plans:
        return
    by_id = {p.programme.id: p for p in plans}
    hours_total = {p.programme.id: p.hours_total for p in plans}
    done = _E.c.completed_at.is_not(None)
    withdrawn_at: Any = _E.c.withdrawn_at
    if len(plans) == 1:
        # One programme (the catalogue's only one, or the filter's): its participants are
        # grouped by learner alone, its courses' hours a CASE. SQLite, which groups by
        # sorting, then reads the (user, course) unique index in its order and sorts
        # nothing (the join below sorted 60,000 enrolments by programme and learner:
        # 0.05-0.09 s of its 0.26-0.43 s); PostgreSQL hashes one integer per row rather
        # than a text and an integer, and estimates the groups it makes (20,000, not the
        # join's 58,788). With several programmes this would read every enrolment once
        # per programme, so they take the join.
        (plan,) = plans
        course: Any = _E.c.course_id
        if session.get_bind().dialect.name == "sqlite":
            # `+column`: not through the indexes of courses and withdrawals, whose order
            # is not the learners'.
            course = unindexed(course)
            withdrawn_at = unindexed(withdrawn_at)
        programme: Any = literal(plan.programme.id, String)
        hours: Any = case(
            *((course == course_id, literal(h, Float)) for course_id, h in plan.hours.items()),
            else_=literal(0.0, Float),
        )
        source: Any = _E
        where: list[Any] = [course.in_(list(plan.hours))]
        group: list[Any] = [_E.c.user_id]
    else:
        # The programmes' courses as a small table the query joins on (UNION ALL of
        # literals works the same on SQLite and PostgreSQL, unlike a VALUES list with
        # named columns).
        pairs = union_all(
            *(
                select(
                    literal(plan.programme.id, String).label("programme"),
                    literal(course_id, String).label("course"),
                    literal(hours, Float).label("hours"),
                )
                for plan in plans
                for course_id, hours in plan.hours.items()
            )
        ).cte("programme_courses")
        programme, hours = pairs.c.programme, pairs.c.hours
        source = _E.join(pairs, pairs.c.course == _E.c.course_id)
        where = []
        group = [pairs.c.programme, _E.c.user_id]
    # First each participant's enrolments in each programme, summed over narrow integer
    # keys; then the learner, cohort and diploma joined to those few rows.
    counted = (
        select(
            programme.label("programme"),
            _E.c.user_id.label("user_id"),
            func.count(_E.c.completed_at).label("courses_completed"),
            func.coalesce(func.sum(case((done, hours), else_=0.0)), 0.0).label("hours_completed"),
            func.sum(case((_E.c.status == "not_started", 0), else_=1)).label("started"),
            func.max(_E.c.last_activity_at).label("last_activity_at"),
            func.max(_E.c.completed_at).label("last_completion"),
            func.min(_E.c.cohort_id).label("cohort_id"),
        )
        .select_from(source)
        .where(withdrawn_at.is_(None), *where)
        .group_by(*group)
    )
    if filters.cohort:
        # The participants with an enrolment of the programme in this cohort, counted over
        # all their enrolments in it (one course moved to another cohort must not halve
        # their count).
        cohort_id = session.scalar(select(_C.c.id).where(_C.c.code == filters.cohort))
        if cohort_id is None:
            return
        members: Any = select(_E.c.user_id).where(
            _E.c.cohort_id == cohort_id,
            _E.c.withdrawn_at.is_(None),
            _E.c.course_id.in_({c for plan in plans for c in plan.hours}),
        )
        found = session.scalars(members.distinct().limit(MEMBERS_LISTED + 1)).all()
        if not found:
            return
        # A cohort's members, named: the database then reads their enrolments through the
        # (user, course) index instead of scanning every enrolment to match a subquery.
        counted = counted.where(
            _E.c.user_id.in_(found if len(found) <= MEMBERS_LISTED else members)
        ).having(func.sum(case((_E.c.cohort_id == cohort_id, 1), else_=0)) > 0)
    if filters.country or filters.institution_type:
        learners = select(_U.c.id)
        if filters.country:
            learners = learners.where(_U.c.country == filters.country.upper())
        if filters.institution_type:
            learners = learners.where(_U.c.institution_type == filters.institution_type)
        counted = counted.where(_E.c.user_id.in_(learners))
    part = counted.subquery("participants")
    # The rows are sorted by each cohort's place among the cohorts (ranked by code, in the
    # database's own collation: the same order) rather than by the code itself, and by
    # programme only when there are several: an integer decides most comparisons, where
    # two or three texts did (PostgreSQL's sort of 20,000 rows: 0.14 s, 0.04 s this way).
    cohorts = select(
        _C.c.id, _C.c.code, func.rank().over(order_by=_C.c.code).label("place")
    ).subquery("cohorts")
    order: list[Any] = [part.c.programme] if len(plans) > 1 else []
    # When a completed participant completed the programme: the diploma's date, else their
    # last course's, chosen by the database, so only those rows' dates become datetimes
    # here (23,000 at 100,000 enrolments, where reading both columns made 38,000).
    courses_total: Any = (
        literal(len(plans[0].hours))
        if len(plans) == 1
        else case(*((part.c.programme == p.programme.id, len(p.hours)) for p in plans))
    )
    finished = case(
        (
            or_(_CERT.c.code.is_not(None), part.c.courses_completed >= courses_total),
            func.coalesce(_CERT.c.issued_at, part.c.last_completion),
        )
    )
    statement = (
        select(
            part.c.programme,
            _U.c.id,
            _U.c.full_name,
            _U.c.email,
            _U.c.institution,
            _U.c.institution_type,
            _U.c.country,
            cohorts.c.code,
            part.c.courses_completed,
            part.c.hours_completed,
            part.c.started,
            part.c.last_activity_at,
            finished,
            _CERT.c.code,
        )
        .select_from(
            part.join(_U, _U.c.id == part.c.user_id)
            .outerjoin(cohorts, cohorts.c.id == part.c.cohort_id)
            .outerjoin(
                _CERT,
                and_(
                    _CERT.c.user_id == part.c.user_id,
                    _CERT.c.kind == "programme",
                    _CERT.c.subject_id == part.c.programme,
                    _CERT.c.revoked_at.is_(None),
                ),
            )
        )
        .order_by(*order, cohorts.c.place, _U.c.full_name, _U.c.id)
    )
    # Read on the driver's cursor (queries.driver_columns: no per-row SQLAlchemy work; on
    # PostgreSQL a server-side cursor planned for every row, without JIT).
    for columns in driver_columns(session, statement, datetimes=(11, 12), batch=batch):
        for row in zip(*columns, strict=True):
            plan = by_id[row[0]]
            total = len(plan.hours)
            completed_courses = int(row[8])
            diploma = row[13]
            completed_at: datetime | None
            if diploma is not None or completed_courses >= total:  # as `finished`
                status, completed_at = "completed", row[12]
            else:
                status = "in_progress" if row[10] else "not_started"
                completed_at = None
            yield {
                "learner": row[2],
                "email": row[3],
                "institution": row[4],
                "institution_type": row[5],
                "country": row[6],
                "cohort": row[7],
                "programme": plan.programme.id,
                "programme_title": plan.programme.title,
                "courses_completed": completed_courses,
                "courses_total": total,
                "hours_completed": round(float(row[9]), 2),
                "hours_total": hours_total[row[0]],
                "status": status,
                "last_activity_at": row[11],
                "diploma": diploma,
                "completed_at": completed_at,
            }
