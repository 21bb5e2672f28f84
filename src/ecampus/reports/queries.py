"""Completion report rows: one query over enrolments, learners, cohorts and certificates."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.types import String
from sqlmodel import Session

from ecampus.accounts.models import User
from ecampus.certificates.models import Certificate
from ecampus.courses.catalog import Catalogue
from ecampus.learning.models import Cohort, Enrollment
from ecampus.localtime import day_bounds
from ecampus.reports.export import utc_texts
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


def unindexed(column: Any) -> UnaryExpression[Any]:
    """`+column`: the same value, which SQLite will not look up through an index on the
    column, so that a query keeps to another index (and its order) instead."""
    return UnaryExpression(column, operator=operators.custom_op("+"))


def reads_learners(filters: Filters) -> bool:
    """Whether `conditions(filters)` reads a learner's column (so needs the join)."""
    return bool(filters.country or filters.institution_type)


def _completion_statement(filters: Filters, *, utc_text: bool = False) -> Any:
    e, u, c, cert = _E, _U, _C, _CERT

    def moment(column: Any) -> Any:
        # PostgreSQL writes a timestamp's UTC text itself (to_char truncates to the second,
        # as isoformat(timespec="seconds") does): no datetime made for it in Python.
        if not utc_text:
            return column
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')

    statement = (
        select(
            u.c.full_name,
            u.c.email,
            u.c.institution,
            u.c.institution_type,
            u.c.country,
            e.c.course_id,
            c.c.code,
            moment(e.c.enrolled_at),
            e.c.progress,
            e.c.score,
            e.c.status,
            moment(e.c.completed_at),
            cert.c.code,
            moment(e.c.last_activity_at),
            moment(e.c.withdrawn_at),
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
    return statement.where(*conditions(filters))


# The statement's datetime columns: enrolled_at, completed_at, last_activity_at, withdrawn_at.
_COMPLETION_DATETIMES = (7, 11, 13, 14)


def completion_columns(
    session: Session,
    *,
    filters: Filters,
    titles: Mapping[str, str],
    groups: Mapping[str, str] | None = None,
    batch: int = 1000,
    datetimes_as_text: bool = False,
) -> Iterator[list[Sequence[Any]]]:
    """The report's rows in enrolment order as batches of columns (in COLUMNS order, one
    sequence of values per column), read on the driver's cursor: the values `completions`
    gives, without SQLAlchemy's work for each row (the CSV and XLSX exports). With
    `datetimes_as_text`, timestamps come as the CSV writes them ("2026-11-30T12:34:56Z")."""
    in_sql = datetimes_as_text and session.get_bind().dialect.name == "postgresql"
    for raw in driver_columns(
        session,
        _completion_statement(filters, utc_text=in_sql),
        datetimes=() if in_sql else _COMPLETION_DATETIMES,
        batch=batch,
        as_text=datetimes_as_text,
    ):
        (learner, email, institution, institution_type, country, course, cohort, enrolled_at,
         progress, score, status, completed_at, certificate, last_activity_at,
         withdrawn_at) = raw  # fmt: skip
        yield [
            learner,
            email,
            institution,
            institution_type,
            country,
            course,
            list(map(titles.get, course, course)),
            cohort,
            enrolled_at,
            progress,
            score,
            [s if w is None else WITHDRAWN for s, w in zip(status, withdrawn_at, strict=True)],
            completed_at,
            certificate,
            list(map((groups or {}).get, course, course)),
            last_activity_at,
            withdrawn_at,
        ]


def completions(
    session: Session,
    *,
    filters: Filters,
    titles: Mapping[str, str],
    groups: Mapping[str, str] | None = None,
    batch: int = 1000,
) -> Iterator[dict[str, Any]]:
    """Stream report rows in enrolment order, fetched in batches to bound memory."""
    keys = [key for key, _ in COLUMNS]
    for columns in completion_columns(
        session, filters=filters, titles=titles, groups=groups, batch=batch
    ):
        for values in zip(*columns, strict=True):
            yield dict(zip(keys, values, strict=True))


def driver_columns(
    session: Session,
    statement: Any,
    *,
    datetimes: Sequence[int] = (),
    batch: int = 1000,
    as_text: bool = False,
) -> Iterator[list[Sequence[Any]]]:
    """The rows of `statement` as batches of columns, read on the driver's cursor.

    SQLAlchemy compiles the statement and its parameters (`_compiled`); it runs on the
    session's own driver connection, in its transaction (a server-side cursor on
    PostgreSQL), and driver errors come out as SQLAlchemy's. The rows are fetched from the
    driver's cursor directly: SQLAlchemy's work for each row (a Row, a type processor per
    datetime) cost more than the query itself at 100,000 rows. The values are what
    SQLAlchemy gives: the columns at `datetimes` (UTCDateTime) become aware UTC datetimes,
    converted as UTCDateTime does (or, `as_text`, export.utc_texts' text); the other
    columns' types convert nothing."""
    connection = session.connection()
    dialect = connection.dialect
    postgres = dialect.name == "postgresql"
    if postgres:
        # For this transaction: the whole result is wanted (a server-side cursor would be
        # planned for its first tenth); no JIT (it compiled such a query for longer than it
        # ran); timestamps in UTC, so psycopg gives datetimes whose tzinfo is UTC itself;
        # sorts and groups of a few tens of thousands of rows in memory (the default 4 MB
        # sent the programme report's to disk: 0.46 s against 0.35 s), unless set higher.
        connection.exec_driver_sql(_POSTGRES_SETTINGS)
    decode = _utc_datetime if postgres else _sqlite_datetime
    sql, parameters = _compiled(statement, dialect)
    driver = connection.connection.driver_connection
    # PostgreSQL: a server-side cursor (rows come `batch` at a time); SQLite reads as it goes.
    cursor: Any = (
        driver.cursor(name=f"report_{next(_CURSOR_NUMBERS)}")  # type: ignore[union-attr]
        if postgres
        else driver.cursor()  # type: ignore[union-attr]
    )
    error = dialect.loaded_dbapi.Error
    try:
        try:
            cursor.execute(sql, parameters)
        except error as exc:
            raise DBAPIError.instance(sql, parameters, exc, error, dialect=dialect) from exc
        while True:
            try:
                raw = cursor.fetchmany(batch)
            except error as exc:
                raise DBAPIError.instance(sql, parameters, exc, error, dialect=dialect) from exc
            if not raw:
                return
            columns: list[Sequence[Any]] = list(zip(*raw, strict=True))
            for index in datetimes:
                if as_text:
                    columns[index] = utc_texts(columns[index])
                else:
                    columns[index] = [None if v is None else decode(v) for v in columns[index]]
            yield columns
    finally:
        cursor.close()


# Server-side cursors are named; two open at once on one connection need two names.
_CURSOR_NUMBERS = itertools.count(1)


def _compiled(statement: Any, dialect: Dialect) -> tuple[str, Any]:
    """The statement's SQL and parameters as SQLAlchemy would send them: IN lists expanded
    (one parameter a value), each value through its type's bind processor (a UTCDateTime
    bound for SQLite becomes the text SQLite stores), positional when the driver wants it."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    types = {name: bind.type for bind, name in compiled.bind_names.items()}
    parameters: dict[str, Any] = {}
    for name, value in compiled.construct_params().items():
        # An IN list's values are named after its parameter: course_id_1_1, course_id_1_2...
        kind = types.get(name) or types[name.rpartition("_")[0]]
        process = kind._cached_bind_processor(dialect)
        parameters[name] = process(value) if process is not None else value
    if compiled.positional:
        return compiled.string, tuple(parameters[name] for name in compiled.positiontup or ())
    return compiled.string, parameters


# What every report's transaction sets on PostgreSQL (the rows and the dashboard): no JIT
# (compiling these short scans takes longer than running them), and at least 32 MB of
# work_mem, so that their sorts and groups stay in memory. Selected together with
# anything else a transaction sets: one round trip.
POSTGRES_REPORT_SETTINGS = (
    "set_config('jit', 'off', true),"
    " CASE WHEN pg_size_bytes(current_setting('work_mem')) < 32 * 1024 * 1024"
    " THEN set_config('work_mem', '32MB', true) END"
)
_POSTGRES_SETTINGS = (
    "SELECT set_config('cursor_tuple_fraction', '1.0', true),"
    " set_config('TimeZone', 'UTC', true), " + POSTGRES_REPORT_SETTINGS
)


def _utc_datetime(value: datetime) -> datetime:
    # As UTCDateTime.process_result_value.
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_datetime(value: Any) -> datetime:
    # SQLAlchemy's SQLite DATETIME reads its text with datetime.fromisoformat, and
    # UTCDateTime makes a naive one UTC: one call does both for text with no offset.
    if type(value) is str:
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            value = datetime.fromisoformat(value)
    return _utc_datetime(value)


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


def report_columns(
    session: Session, filters: Filters, catalogue: Catalogue, *, datetimes_as_text: bool = False
) -> Iterator[list[Sequence[Any]]]:
    """`report_rows` as batches of columns (`completion_columns`), for the CSV and XLSX."""
    courses = catalogue.courses.values()
    return completion_columns(
        session,
        filters=filters,
        titles={c.id: c.title for c in courses},
        groups={c.id: catalogue.group_key(c.id) for c in courses},
        datetimes_as_text=datetimes_as_text,
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
