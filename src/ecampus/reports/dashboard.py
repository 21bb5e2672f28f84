"""The coordinator dashboard's figures, counted by the database with GROUP BY.

Per course, programme, cohort, country and institution type: enrolments, those active in
the last 30 days, completed, the completion rate and the average score; and completions
over time, by month or ISO week (Monday first) of the institution's calendar
(ECAMPUS_TIMEZONE). Withdrawn enrolments are never counted; the other filters are the
report's own conditions (queries.conditions). No report row reaches Python: a few grouped
queries answer, whatever the number of enrolments.

- one query groups enrolments by (cohort, course); the course and cohort lines and the
  totals are sums of those groups (each figure is a count or a sum, so adding groups is
  exact);
- on SQLite, one query groups enrolments per learner along the (user, course) unique index
  (SQLite groups by sorting, and that index gives the order for free), with each
  programme's share, then those learners by (country, institution type): the country,
  institution type and programme lines (see _per_learner);
- on PostgreSQL, which groups by hashing, one query groups by the learner's (country,
  institution type), and one counts programme participants (distinct learners enrolled in
  any of its courses) and their valid diplomas, through the programme → course pairs;
- one query counts completions per local day (SQLite) or month or week (PostgreSQL).
  PostgreSQL converts with ``AT TIME ZONE``; SQLite, which has no time zones, adds the
  zone's UTC offset in force at each instant, from the zone's own transitions, so a
  completion at 03:00 UTC on 1 March is February's in Guatemala on both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.types import Integer, String
from sqlmodel import Session

from ecampus.accounts.models import User
from ecampus.certificates.models import Certificate
from ecampus.learning.models import Cohort, Enrollment
from ecampus.reports.queries import (
    POSTGRES_REPORT_SETTINGS,
    Filters,
    conditions,
    reads_learners,
    unindexed,
)
from ecampus.settings import get_settings

ACTIVE_DAYS = 30
Period = Literal["month", "week"]
PERIODS: tuple[Period, ...] = ("month", "week")
MAX_BUCKETS = 520  # ten years of weeks: a longer span is shown by its latest buckets

_E = Enrollment.__table__  # type: ignore[attr-defined]
_U = User.__table__  # type: ignore[attr-defined]
_C = Cohort.__table__  # type: ignore[attr-defined]
_CERT = Certificate.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Figures:
    """Counts for one line of a breakdown (or the whole selection)."""

    enrolled: int = 0
    active: int = 0
    completed: int = 0
    scored: int = 0  # enrolments with a score
    score_sum: float = 0.0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.enrolled + other.enrolled,
            self.active + other.active,
            self.completed + other.completed,
            self.scored + other.scored,
            self.score_sum + other.score_sum,
        )

    @property
    def rate(self) -> float | None:
        """Completed per enrolled, as a percentage (None with nobody enrolled)."""
        return 100.0 * self.completed / self.enrolled if self.enrolled else None

    @property
    def average_score(self) -> float | None:
        """The mean score of the enrolments that have one, as a percentage."""
        return self.score_sum / self.scored if self.scored else None

    def as_dict(self) -> dict[str, Any]:
        average = self.average_score
        rate = self.rate
        return {
            "enrolled": self.enrolled,
            "active": self.active,
            "completed": self.completed,
            "completion_rate": None if rate is None else round(rate, 2),
            "average_score": None if average is None else round(average, 2),
        }


@dataclass(frozen=True, slots=True)
class Line:
    key: str  # course id, programme id, cohort code, country code, institution type
    figures: Figures


@dataclass(frozen=True, slots=True)
class Bucket:
    start: date  # the first local day of the month or week
    completed: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    total: Figures
    courses: list[Line]
    programmes: list[Line]
    cohorts: list[Line]
    countries: list[Line]
    institution_types: list[Line]
    period: Period
    over_time: list[Bucket] = field(default_factory=list)

    def as_dict(
        self,
        *,
        labels: Mapping[str, Callable[[str], str]] | None = None,
    ) -> dict[str, Any]:
        """The JSON shape of `GET /api/v1/reports/dashboard`."""
        names = labels or {}

        def lines(kind: str, items: Sequence[Line]) -> list[dict[str, Any]]:
            label = names.get(kind, lambda key: key)
            return [{"key": x.key, "label": label(x.key), **x.figures.as_dict()} for x in items]

        return {
            "total": self.total.as_dict(),
            "active_days": ACTIVE_DAYS,
            "courses": lines("courses", self.courses),
            "programmes": lines("programmes", self.programmes),
            "cohorts": lines("cohorts", self.cohorts),
            "countries": lines("countries", self.countries),
            "institution_types": lines("institution_types", self.institution_types),
            "period": self.period,
            "completions_over_time": [
                {"start": b.start.isoformat(), "completed": b.completed} for b in self.over_time
            ],
        }


def _conditions(filters: Filters, courses: tuple[str, ...] | None) -> list[Any]:
    """The WHERE of every dashboard query: the report's filters (queries.conditions, shared
    with the report and its summary), withdrawn enrolments never counted, and the
    dashboard's own programme (`courses`), if any."""
    where: list[Any] = conditions(filters, withdrawn=False)
    if courses is not None:  # a programme's courses
        where.append(_E.c.course_id.in_(courses) if courses else false())
    return where


def _scanned(where: list[Any]) -> list[Any]:
    """SQLite: `where` with `+withdrawn_at IS NULL`, so not through the index of withdrawals
    (almost every enrolment has none, but without statistics SQLite takes the index for a
    selective one and reads each row from the table, then sorts them for the grouping):
    the enrolments are read from ix_enrollments_report instead, which holds every column
    these counts read, in (cohort, course) order."""
    withdrawn = _E.c.withdrawn_at.is_(None)
    plain = unindexed(_E.c.withdrawn_at).is_(None)
    return [plain if w.compare(withdrawn) else w for w in where]


def _from(filters: Filters) -> Any:
    """Enrolments, joined to their learners only when a condition reads a learner's column."""
    return _E.join(_U, _U.c.id == _E.c.user_id) if reads_learners(filters) else _E


def _figure_columns(active_since: datetime) -> list[Any]:
    return [
        func.count().label("enrolled"),
        func.coalesce(func.sum(case((_E.c.last_activity_at >= active_since, 1), else_=0)), 0).label(
            "active"
        ),
        func.coalesce(func.sum(case((_E.c.status == "completed", 1), else_=0)), 0).label(
            "completed"
        ),
        func.count(_E.c.score).label("scored"),
        func.coalesce(func.sum(_E.c.score), 0.0).label("score_sum"),
    ]


def _figures(row: Any) -> Figures:
    return Figures(
        int(row.enrolled),
        int(row.active),
        int(row.completed),
        int(row.scored),
        float(row.score_sum or 0.0),
    )


def compute(
    session: Session,
    filters: Filters,
    *,
    programmes: Mapping[str, Sequence[str]],
    programme: str | None = None,
    period: Period = "month",
    now: datetime | None = None,
) -> Dashboard:
    """The dashboard for `filters`. `programmes` maps each programme id to its course ids
    (from the catalogue); `programme` narrows everything to one programme's courses."""
    zone = filters.zone or get_settings().zone
    moment = now or datetime.now(UTC)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # These are short grouped scans: compiling them with JIT (which PostgreSQL starts
        # past a cost estimate that large tables reach) takes longer than running them.
        # The programme lines sort each participant's enrolments: with the default 4 MB of
        # work_mem that sort went to disk (3 MB at 100,000 enrolments; 32 MB: 60 ms less),
        # so the transaction gets 32 MB unless it has more, as the reports' queries do.
        session.execute(text("SELECT " + POSTGRES_REPORT_SETTINGS))
    active_since = moment - timedelta(days=ACTIVE_DAYS)
    scope = tuple(programmes.get(programme, ())) if programme else None
    where = _conditions(filters, scope)
    sqlite = dialect == "sqlite"
    scanned = _scanned(where) if sqlite else where
    joined = _E.join(_U, _U.c.id == _E.c.user_id)

    # Two grains rather than one over all four columns: their product (courses × cohorts ×
    # countries × institution types) runs to tens of thousands of groups, each summed in
    # Python, where these two give hundreds.
    per: dict[str, dict[Any, Figures]] = {k: {} for k in ("course", "cohort", "country", "type")}
    total = Figures()
    by_enrolment = (
        select(_E.c.cohort_id, _E.c.course_id, *_figure_columns(active_since))
        .select_from(_from(filters))
        .where(*scanned)
        # The order of ix_enrollments_report, which SQLite reads with no sort to group.
        .group_by(_E.c.cohort_id, _E.c.course_id)
    )
    for row in session.execute(by_enrolment):
        figures = _figures(row)
        total += figures
        for kind, key in (("course", row.course_id), ("cohort", row.cohort_id)):
            per[kind][key] = per[kind].get(key, Figures()) + figures
    if sqlite:
        # One pass per learner serves the country and institution type lines and the
        # programmes (see _per_learner); PostgreSQL's hash aggregates need no such help.
        learner_lines, programme_lines = _per_learner(
            session, filters, where, _pairs(programmes, programme), active_since, per["course"]
        )
        for kind, lines in learner_lines.items():
            per[kind] = dict(lines)
    else:
        by_learner = (
            select(_U.c.country, _U.c.institution_type, *_figure_columns(active_since))
            .select_from(joined)
            .where(*where)
            .group_by(_U.c.country, _U.c.institution_type)
        )
        for row in session.execute(by_learner):
            figures = _figures(row)
            for kind, key in (
                ("country", row.country or ""),
                ("type", row.institution_type or ""),
            ):
                per[kind][key] = per[kind].get(key, Figures()) + figures
        programme_lines = _programmes(session, filters, where, programmes, active_since, programme)

    codes = _cohort_codes(session, [k for k in per["cohort"] if k is not None])
    cohort_lines = [
        Line(codes.get(key, ""), figures) for key, figures in per["cohort"].items() if key
    ]
    if None in per["cohort"]:
        cohort_lines.append(Line("", per["cohort"][None]))

    return Dashboard(
        total=total,
        courses=[Line(k, v) for k, v in per["course"].items()],
        programmes=programme_lines,
        cohorts=cohort_lines,
        countries=[Line(k, v) for k, v in per["country"].items()],
        institution_types=[Line(k, v) for k, v in per["type"].items()],
        period=period,
        over_time=_over_time(session, filters, scanned, zone, period),
    )


def recent(
    session: Session,
    filters: Filters,
    *,
    programmes: Mapping[str, Sequence[str]],
    programme: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The latest `limit` enrolments in the selection (newest first, read backwards along
    the primary key, so no sort of the whole selection), with their valid certificate."""
    scope = tuple(programmes.get(programme, ())) if programme else None
    certificate = _CERT.alias("certificate")
    # The certificate as a subquery of each row shown, not a join: it is looked up for the
    # rows that survive the LIMIT (through the unique index of valid certificates), so no
    # plan, even one made without statistics, can pair every enrolment with every certificate.
    code = (
        select(certificate.c.code)
        .where(
            certificate.c.user_id == _E.c.user_id,
            certificate.c.kind == "course",
            certificate.c.subject_id == _E.c.course_id,
            certificate.c.revoked_at.is_(None),
        )
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        select(
            _U.c.full_name.label("learner"),
            _U.c.email,
            _U.c.institution,
            _U.c.institution_type,
            _U.c.country,
            _E.c.course_id.label("course"),
            _E.c.progress,
            _E.c.score,
            _E.c.status,
            _E.c.completed_at,
            _E.c.last_activity_at,
            code.label("certificate"),
        )
        .select_from(_E.join(_U, _U.c.id == _E.c.user_id))
        .where(*_conditions(filters, scope))
        .order_by(_E.c.id.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in session.execute(statement)]


def _cohort_codes(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.execute(select(_C.c.id, _C.c.code).where(_C.c.id.in_(wanted)))
    return {row.id: row.code for row in rows}


def _pairs(programmes: Mapping[str, Sequence[str]], only: str | None) -> dict[str, list[str]]:
    """The programmes counted (all, or `only`) with their courses, those with courses."""
    return {
        programme_id: list(course_ids)
        for programme_id, course_ids in sorted(programmes.items())
        if (only is None or programme_id == only) and course_ids
    }


# Past this many programmes (each adds a test of the course on every enrolment and a look
# for a diploma per participant: about 50 ms at 100,000 enrolments, where the grouped query
# of _programmes reads a programme's enrolments once more, about 130 ms), the statement is
# left to the grouped query rather than made longer still.
PER_LEARNER_PROGRAMMES = 16


def _per_learner(
    session: Session,
    filters: Filters,
    where: list[Any],
    programmes: Mapping[str, Sequence[str]],
    active_since: datetime,
    courses: Mapping[str, Figures],
) -> tuple[dict[str, list[tuple[str, Figures]]], list[Line]]:
    """SQLite: the country and institution type lines, and the programme lines, from one
    pass over enrolments grouped per learner, in the order of the (user, course) unique
    index, so without sorting every enrolment (SQLite groups by sorting, and sorting
    100,000 rows on string keys costs more than the counting); then the learners' groups
    (tens of thousands at most) grouped by country and institution type.

    Per programme, a learner is a participant with an enrolment in one of its courses,
    active with any of those active, completed with a valid diploma: one test of the
    course per enrolment and programme. The scores of a programme's participants in its
    courses are those of its courses' enrolments, so they are summed from the course lines
    (`courses`, counted with the same conditions). The lines are sums of groups, so exact."""
    many = len(programmes) > PER_LEARNER_PROGRAMMES
    counted = {} if many else dict(programmes)
    # `+withdrawn_at` (_scanned): SQLite walks the (user, course) index and needs no sort
    # for the grouping.
    conditions_ = _scanned(where)
    active = _E.c.last_activity_at >= active_since
    columns: list[Any] = [_E.c.user_id.label("user_id"), *_figure_columns(active_since)]
    for n, course_ids in enumerate(counted.values()):
        # 0: not a participant; 1: a participant; 2: an active one.
        columns.append(
            func.max(
                case((_E.c.course_id.in_(list(course_ids)), case((active, 2), else_=1)), else_=0)
            ).label(f"p{n}")
        )
    learners = (
        select(*columns)
        .select_from(_from(filters))
        .where(*conditions_)
        .group_by(_E.c.user_id)
        .subquery("learners")
    )
    sums: list[Any] = [
        func.sum(learners.c.enrolled).label("enrolled"),
        func.sum(learners.c.active).label("active"),
        func.sum(learners.c.completed).label("completed"),
        func.sum(learners.c.scored).label("scored"),
        func.total(learners.c.score_sum).label("score_sum"),
    ]
    for n, programme_id in enumerate(counted):
        participant = learners.c[f"p{n}"] > 0
        diploma = (
            select(_CERT.c.id)
            .where(
                _CERT.c.user_id == learners.c.user_id,
                _CERT.c.kind == "programme",
                _CERT.c.subject_id == programme_id,
                _CERT.c.revoked_at.is_(None),
            )
            .exists()
        )
        sums += [
            func.sum(case((participant, 1), else_=0)).label(f"p{n}_enrolled"),
            func.sum(case((learners.c[f"p{n}"] == 2, 1), else_=0)).label(f"p{n}_active"),
            # At most one valid diploma per learner and programme (uq_certificates_current).
            func.sum(case((participant, case((diploma, 1), else_=0)), else_=0)).label(
                f"p{n}_completed"
            ),
        ]
    statement = (
        select(_U.c.country, _U.c.institution_type, *sums)
        .select_from(learners.join(_U, _U.c.id == learners.c.user_id))
        .group_by(_U.c.country, _U.c.institution_type)
    )
    lines: dict[str, dict[str, Figures]] = {"country": {}, "type": {}}
    totals = [Figures() for _ in counted]
    for row in session.execute(statement):
        figures = _figures(row)
        for kind, key in (("country", row.country or ""), ("type", row.institution_type or "")):
            lines[kind][key] = lines[kind].get(key, Figures()) + figures
        for n in range(len(counted)):
            values = row._mapping
            totals[n] += Figures(
                int(values[f"p{n}_enrolled"] or 0),
                int(values[f"p{n}_active"] or 0),
                int(values[f"p{n}_completed"] or 0),
            )
    for n, course_ids in enumerate(counted.values()):
        for course_id in set(course_ids):
            figures = courses.get(course_id, Figures())
            totals[n] += Figures(scored=figures.scored, score_sum=figures.score_sum)
    programme_lines = [
        Line(programme_id, figures)
        for programme_id, figures in zip(counted, totals, strict=True)
        if figures.enrolled
    ]
    if many:
        programme_lines = _programmes(session, filters, where, programmes, active_since, None)
    return {k: list(v.items()) for k, v in lines.items()}, programme_lines


def _programmes(
    session: Session,
    filters: Filters,
    where: list[Any],
    programmes: Mapping[str, Sequence[str]],
    active_since: datetime,
    only: str | None,
) -> list[Line]:
    pairs = [(p, c) for p, courses in _pairs(programmes, only).items() for c in courses]
    if not pairs:
        return []
    # The programme → course pairs as a small derived table both databases understand.
    mapping = union_all(
        *(
            select(
                cast(literal(p), String).label("programme"),
                cast(literal(c), String).label("course"),
            )
            for p, c in pairs
        )
    ).subquery("programme_courses")
    # First one row per programme and participant (a hash or sorted group of at most
    # learners × programmes), then each participant's valid diploma, and the counts.
    per_person = (
        select(
            mapping.c.programme,
            _E.c.user_id,
            func.max(case((_E.c.last_activity_at >= active_since, 1), else_=0)).label("active"),
            func.count(_E.c.score).label("scored"),
            func.coalesce(func.sum(_E.c.score), 0.0).label("score_sum"),
        )
        .select_from(_from(filters).join(mapping, mapping.c.course == _E.c.course_id))
        .where(*where)
        .group_by(_E.c.user_id, mapping.c.programme)  # the integer first: a cheaper sort
        .subquery("participants")
    )
    diploma = _CERT.alias("diploma")
    statement = (
        select(
            per_person.c.programme,
            func.count().label("enrolled"),
            func.coalesce(func.sum(per_person.c.active), 0).label("active"),
            func.count(diploma.c.id).label("completed"),
            func.coalesce(func.sum(per_person.c.scored), 0).label("scored"),
            func.coalesce(func.sum(per_person.c.score_sum), 0.0).label("score_sum"),
        )
        .select_from(
            # At most one valid diploma per learner and programme (uq_certificates_current).
            per_person.outerjoin(
                diploma,
                and_(
                    diploma.c.user_id == per_person.c.user_id,
                    diploma.c.kind == "programme",
                    diploma.c.subject_id == per_person.c.programme,
                    diploma.c.revoked_at.is_(None),
                ),
            )
        )
        .group_by(per_person.c.programme)
    )
    return [Line(row.programme, _figures(row)) for row in session.execute(statement)]


def _over_time(
    session: Session,
    filters: Filters,
    where: list[Any],
    zone: tzinfo,
    period: Period,
) -> list[Bucket]:
    column = _E.c.completed_at
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        local = func.timezone(_zone_name(zone), column)  # timestamptz AT TIME ZONE zone
        bucket: ColumnElement[Any] = func.to_char(func.date_trunc(period, local), "YYYY-MM-DD")
    else:
        # The local day as a Julian day number, in integers: the instant in milliseconds
        # (julianday() holds them exactly), plus the zone's offset then, plus half a day.
        # Cheaper than formatting a date on every row, and the groups sort as integers;
        # the days are put in their months or weeks here.
        day: ColumnElement[Any] = literal_column(str(_MS_PER_DAY))  # written out: SELECT
        half: ColumnElement[Any] = literal_column(str(_MS_PER_DAY // 2))  # and GROUP BY match
        instant = cast(func.round(func.julianday(column) * day), Integer)
        # SQLite divides two integers as integers (day numbers are positive: floor).
        bucket = (instant + _sqlite_offset_ms(column, zone) + half).self_group().op("/")(day)
    statement = (
        select(bucket.label("start"), func.count().label("completed"))
        .select_from(_from(filters))
        .where(*where, _E.c.status == "completed", column.is_not(None))
        .group_by(bucket)
    )
    counts: dict[date, int] = {}
    for row in session.execute(statement):
        if isinstance(row.start, int):  # SQLite: a local day
            start = _start_of(date.fromordinal(row.start - _JULIAN_ORDINAL), period)
        else:
            start = date.fromisoformat(str(row.start)[:10])
        counts[start] = counts.get(start, 0) + int(row.completed)
    return _fill(counts, period, filters, zone)


_MS_PER_DAY = 86_400_000
_JULIAN_ORDINAL = 1_721_425  # the Julian day number of date.fromordinal(0), 31 December 1 BC


def _zone_name(zone: tzinfo) -> str:
    key = getattr(zone, "key", None)
    return str(key) if key else "UTC"


def _sqlite_offset_ms(column: Any, zone: tzinfo) -> ColumnElement[Any]:
    """The zone's UTC offset in milliseconds at the stored instant, from the zone's
    transitions (latest first: most data is recent)."""
    segments = _offset_segments(_zone_name(zone)) if getattr(zone, "key", None) else ()
    if not segments:
        fixed = zone.utcoffset(datetime.now(UTC)) or timedelta(0)
        return literal_column(str(_ms(fixed)))
    first_offset = segments[0][1]
    whens: list[tuple[Any, Any]] = [
        (
            column >= literal_column(f"'{start.strftime('%Y-%m-%d %H:%M:%S')}'"),
            literal_column(str(_ms(offset))),
        )
        for start, offset in reversed(segments[1:])
    ]
    if not whens:
        return literal_column(str(_ms(first_offset)))
    return case(*whens, else_=literal_column(str(_ms(first_offset))))


def _ms(offset: timedelta) -> int:
    return int(offset.total_seconds()) * 1000


@lru_cache(maxsize=8)
def _offset_segments(name: str) -> tuple[tuple[datetime, timedelta], ...]:
    """(UTC start, offset) of each stretch of constant offset from 1970 to ten years
    ahead; found by stepping a day at a time and narrowing each change to the minute."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(name)
    start = datetime(1970, 1, 1, tzinfo=UTC)
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3650)

    def offset(moment: datetime) -> timedelta:
        return moment.astimezone(zone).utcoffset() or timedelta(0)

    segments = [(start.replace(tzinfo=None), offset(start))]
    step = timedelta(days=1)
    moment = start
    current = segments[0][1]
    while moment < end:
        following = moment + step
        if offset(following) != current:
            low, high = moment, following  # offset(low) == current != offset(high)
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    break
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            current = offset(high)
            segments.append((high.replace(tzinfo=None), current))
        moment = following
    return tuple(segments)


def _fill(counts: dict[date, int], period: Period, filters: Filters, zone: tzinfo) -> list[Bucket]:
    """Every month or week from the first to the last with a completion (or the filter's
    dates when they are on completion), zero where none; at most MAX_BUCKETS, the latest."""
    first: date | None = min(counts) if counts else None
    last: date | None = max(counts) if counts else None
    if filters.date_field == "completed_at":
        first = _start_of(filters.since, period) if filters.since else first
        last = _start_of(filters.until, period) if filters.until else last
    if first is None or last is None or first > last:
        return []
    starts: list[date] = []
    cursor = last
    while cursor >= first and len(starts) < MAX_BUCKETS:
        starts.append(cursor)
        cursor = _previous(cursor, period)
    return [Bucket(start, counts.get(start, 0)) for start in reversed(starts)]


def _start_of(day: date, period: Period) -> date:
    return day.replace(day=1) if period == "month" else day - timedelta(days=day.weekday())


def _previous(start: date, period: Period) -> date:
    if period == "week":
        return start - timedelta(days=7)
    return (start - timedelta(days=1)).replace(day=1)


__all__ = [
    "ACTIVE_DAYS",
    "PERIODS",
    "Bucket",
    "Dashboard",
    "Figures",
    "Line",
    "Period",
    "compute",
    "recent",
]
