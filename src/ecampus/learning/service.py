"""Enrolment and progress: what the learner did, stored one row per item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ecampus.accounts import sessions as account_sessions
from ecampus.accounts.sessions import Account
from ecampus.courses.content import CourseContent
from ecampus.dbfast import LoopReader, LoopTransaction, PreparedQuery
from ecampus.learning import progress as progress_rules
from ecampus.learning.models import Enrollment, ItemProgress
from ecampus.learning.progress import ItemState, Progress

_enrollments = Enrollment.__table__  # type: ignore[attr-defined]
_items = ItemProgress.__table__  # type: ignore[attr-defined]


class NotEnrolled(LookupError):
    pass


class ChangedMeanwhile(Exception):
    """The enrolment changed between a write's read and the write (another lesson or attempt
    of the same learner, in another request or process): nothing was written, and the write
    is planned again from a new read. Without this, two such requests each computed the
    progress from a read that missed the other's row, and the later one stored its smaller
    figure: 18 lessons marked done at once left 41-58 % in the enrolment (what reports
    read) where the rows made 75 %."""


@dataclass(frozen=True, slots=True)
class CourseState:
    enrollment_id: int | None
    completed_at: datetime | None
    last_item_id: str | None
    progress: Progress

    @property
    def enrolled(self) -> bool:
        return self.enrollment_id is not None


def enroll(
    session: Session, *, user_id: int, course_id: str, cohort_id: int | None = None
) -> tuple[Enrollment, bool]:
    """Enrol a learner (idempotent); returns the enrolment and whether it is new. Enrolling
    again after a withdrawal restores the enrolment, with the progress it had (new: True)."""
    existing = session.scalars(
        select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)  # type: ignore[arg-type]
    ).first()
    if existing is not None:
        enrollment = existing
        restored = enrollment.withdrawn_at is not None
        moved = cohort_id is not None and enrollment.cohort_id != cohort_id
        if restored or moved:
            enrollment.withdrawn_at = None
            enrollment.withdrawn_by_id = None
            if cohort_id is not None:
                enrollment.cohort_id = cohort_id
            session.add(enrollment)
            session.commit()
        return enrollment, restored
    enrollment = Enrollment(user_id=user_id, course_id=course_id, cohort_id=cohort_id)
    session.add(enrollment)
    try:
        session.commit()
    except IntegrityError:  # a concurrent request enrolled first, or the account is gone
        session.rollback()
        raced = session.scalars(
            select(Enrollment.id).where(  # type: ignore[call-overload]
                Enrollment.user_id == user_id,
                Enrollment.course_id == course_id,
            )
        ).first()
        if raced is None:
            raise  # not a race: retrying would fail the same way, for ever
        return enroll(session, user_id=user_id, course_id=course_id, cohort_id=cohort_id)
    session.refresh(enrollment)
    return enrollment, True


# Built once: this runs on every lesson page, so it skips the ORM and compiles once.
_STATE_QUERY = (
    select(
        _enrollments.c.id,
        _enrollments.c.completed_at,
        _enrollments.c.last_item_id,
        _items.c.item_id,
        _items.c.kind,
        _items.c.completed_at.is_not(None) | _items.c.passed,
        _items.c.best_score,
        # What a write must still find (see ChangedMeanwhile): every progress write sets it.
        _enrollments.c.last_activity_at,
    )
    .select_from(
        _enrollments.outerjoin(
            _items,
            and_(
                _items.c.user_id == _enrollments.c.user_id,
                _items.c.course_id == _enrollments.c.course_id,
            ),
        )
    )
    .where(
        _enrollments.c.user_id == bindparam("user_id"),
        _enrollments.c.course_id == bindparam("course_id"),
        # A withdrawn enrolment is kept for the record, but to its learner it is gone.
        _enrollments.c.withdrawn_at.is_(None),
    )
)


# The lesson page's only query: the caller's live session and account (accounts.sessions),
# their enrolment and every item row. Signed out, deactivated or deleted: no row at all.
_PAGE_QUERY = (
    select(*account_sessions.ACCOUNT_COLUMNS, *_STATE_QUERY.selected_columns)
    .select_from(
        account_sessions.live_session()
        .outerjoin(
            _enrollments,
            and_(
                _enrollments.c.user_id == account_sessions.USER_ID,
                _enrollments.c.course_id == bindparam("course_id"),
                _enrollments.c.withdrawn_at.is_(None),
            ),
        )
        .outerjoin(
            _items,
            and_(
                _items.c.user_id == _enrollments.c.user_id,
                _items.c.course_id == _enrollments.c.course_id,
            ),
        )
    )
    .where(account_sessions.live_account_filter())
)


_PAGE = PreparedQuery(_PAGE_QUERY)


def page_state(
    db: Session | Connection | Engine, *, user_id: int, session_id: str, course: CourseContent
) -> tuple[Account | None, CourseState]:
    """The account behind a live session (None when there is none) and the course state,
    in one round trip: what a lesson page needs from the database."""
    params = _page_params(user_id, session_id, course)
    rows: Sequence[Sequence[Any]]
    if isinstance(db, Engine):  # the lesson page: straight on the driver (see dbfast)
        rows = _PAGE.rows(db, params)
    else:
        rows = db.execute(_PAGE_QUERY, params).all()
    return _page_state_of(course, rows)


async def page_state_on_loop(
    reader: LoopReader, *, user_id: int, session_id: str, course: CourseContent
) -> tuple[Account | None, CourseState]:
    """`page_state` on the event loop, with no worker thread (ecampus.dbfast.LoopReader);
    raises ReaderBusy when the caller should read in a worker thread instead."""
    params = _page_params(user_id, session_id, course)
    return _page_state_of(course, await reader.rows(_PAGE, params))


def page_query_of(*extra: Any) -> Any:
    """The lesson page's query with `extra` columns: scalar subqueries that the caller binds
    (user_id, course_id) and that do not depend on the row, so that the database runs them
    once for the whole answer (see page_state_and_extra_on_loop)."""
    return _PAGE_QUERY.add_columns(*extra)


async def page_state_and_extra_on_loop(
    reader: LoopReader,
    query: PreparedQuery,
    *,
    user_id: int,
    session_id: str,
    course: CourseContent,
) -> tuple[Account | None, CourseState, tuple[Any, ...]]:
    """`page_state_on_loop` with a `page_query`'s extra columns (empty with no live
    session)."""
    rows = await reader.rows(query, _page_params(user_id, session_id, course))
    account, state = _page_state_of(course, rows)
    return account, state, tuple(rows[0][_SKIP + _STATE_WIDTH :]) if rows else ()


def _page_params(user_id: int, session_id: str, course: CourseContent) -> dict[str, Any]:
    return {
        **account_sessions.lookup_params(user_id=user_id, session_id=session_id),
        "course_id": course.id,
    }


def _page_state_of(
    course: CourseContent, rows: Sequence[Sequence[Any]]
) -> tuple[Account | None, CourseState]:
    if not rows:
        return None, _state_of(course, [])
    skip = len(account_sessions.ACCOUNT_COLUMNS)
    state_rows = [r[skip:] for r in rows] if rows[0][skip] is not None else []
    return account_sessions.account_of(rows[0]), _state_of(course, state_rows)


def course_state(db: Session | Connection, *, user_id: int, course: CourseContent) -> CourseState:
    """Enrolment and every item row in one query: the hot path of each lesson page."""
    rows = db.execute(_STATE_QUERY, {"user_id": user_id, "course_id": course.id}).all()
    return _state_of(course, rows)


def _state_of(course: CourseContent, rows: Sequence[Sequence[Any]]) -> CourseState:
    if not rows:
        return CourseState(None, None, None, progress_rules.compute(course, ()))
    states = [
        ItemState(item_id=r[3], kind=r[4], done=bool(r[5]), best_score=r[6])
        for r in rows
        if r[3] is not None
    ]
    first = rows[0]
    return CourseState(first[0], first[1], first[2], sticky_progress(course, states, first[1]))


def sticky_progress(
    course: CourseContent, states: list[ItemState], completed_at: datetime | None
) -> Progress:
    """A course once completed stays completed, even if authors add items later."""
    current = progress_rules.compute(course, states)
    if completed_at is None or current.completed:
        return current
    return Progress(
        percent=100,
        status=progress_rules.COMPLETED,
        score=current.score,
        done=current.done,
        best_scores=current.best_scores,
        next_item_id=current.next_item_id,
    )


# -- writes: a lesson read or a quiz result, and the progress it makes ------------------------
#
# A write reads once (the caller's session when asked, the enrolment and every item row, and
# whatever the caller adds), then writes its item row and the enrolment's derived progress,
# computed from what it read and what it wrote: no second read. The statements are built once
# per dialect, with bound parameters, so that SQLAlchemy compiles them once.


@dataclass(frozen=True, slots=True)
class WriteRead:
    """What a write needs to know first, in one query (the progress itself is computed
    once, after the write: see _write)."""

    account: Account | None  # the caller's live session's account (None: none, or unchecked)
    enrollment_id: int | None  # None: not enrolled (or withdrawn)
    completed_at: datetime | None
    seen: datetime | None  # the enrolment's last_activity_at: a write lands only if unchanged
    items: tuple[ItemState, ...]  # the learner's item rows as stored
    extra: tuple[Any, ...]  # the caller's own columns (from the first row)

    @property
    def enrolled(self) -> bool:
        return self.enrollment_id is not None


_SKIP = len(account_sessions.ACCOUNT_COLUMNS)
_STATE_WIDTH = len(_STATE_QUERY.selected_columns)


def write_query(*extra: Any, checked: bool = True) -> PreparedQuery:
    """The read before a write: the caller's live session and account when `checked` (as
    the lesson page's query), the enrolment and its item rows, and `extra` columns (scalar
    subqueries the caller binds). Checked, a caller without a live session gets no row;
    unchecked, a learner not enrolled gets none."""
    return PreparedQuery((_PAGE_QUERY if checked else _STATE_QUERY).add_columns(*extra))


def read_for_write(
    connection: Connection | LoopTransaction,
    query: PreparedQuery,
    *,
    user_id: int,
    session_id: str | None,
    course: CourseContent,
    params: dict[str, Any] | None = None,
) -> WriteRead:
    """Run a `write_query` (checked when `session_id` is given)."""
    values = _write_read_params(user_id, session_id, course, params)
    return _write_read_of(query.run(connection, values), session_id)


async def read_for_write_on_loop(
    reader: LoopReader,
    query: PreparedQuery,
    *,
    user_id: int,
    session_id: str | None,
    course: CourseContent,
    params: dict[str, Any] | None = None,
) -> WriteRead:
    """`read_for_write` on the event loop's own reader (PostgreSQL's pipe); ReaderBusy when
    it cannot serve."""
    values = _write_read_params(user_id, session_id, course, params)
    return _write_read_of(await reader.rows(query, values), session_id)


def _write_read_params(
    user_id: int, session_id: str | None, course: CourseContent, params: dict[str, Any] | None
) -> dict[str, Any]:
    values: dict[str, Any] = {"user_id": user_id, "course_id": course.id, **(params or {})}
    if session_id is not None:
        values.update(account_sessions.lookup_params(user_id=user_id, session_id=session_id))
    return values


def _write_read_of(rows: list[Any], session_id: str | None) -> WriteRead:
    account = None
    if session_id is not None:
        if not rows:
            return WriteRead(None, None, None, None, (), ())
        account = account_sessions.account_of(rows[0])
        rows = [r[_SKIP:] for r in rows]
    extra = tuple(rows[0][_STATE_WIDTH:]) if rows else ()
    if not rows or rows[0][0] is None:  # no enrolment (the outer join found none)
        return WriteRead(account, None, None, None, (), extra)
    items = tuple(
        ItemState(item_id=r[3], kind=r[4], done=bool(r[5]), best_score=r[6])
        for r in rows
        if r[3] is not None
    )
    return WriteRead(account, rows[0][0], rows[0][1], rows[0][7], items, extra)


def _insert(dialect: str) -> Any:
    # inline: no implicit RETURNING of the new row's id (PostgreSQL's compiler adds one).
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_items).inline()


def _bind(name: str, column: Any) -> Any:
    return bindparam(name, type_=column.type)


def _upsert(dialect: str, values: dict[str, Any], update: dict[str, Any], source: Any) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE of one item row; with `source` (a CTE), the row is
    inserted only if the source has a row (INSERT ... SELECT ... FROM source)."""
    insert = _insert(dialect)
    if source is None:
        insert = insert.values(**values)
    else:
        row = [v if isinstance(v, ColumnElement) else literal(v) for v in values.values()]
        insert = insert.from_select(list(values), select(*row).select_from(source))
    return insert.on_conflict_do_update(
        index_elements=["user_id", "course_id", "item_id"], set_=update
    )


def _item_values(kind: str) -> dict[str, Any]:
    return {
        "user_id": _bind("p_user", _items.c.user_id),
        "course_id": _bind("p_course", _items.c.course_id),
        "item_id": _bind("p_item", _items.c.item_id),
        "kind": kind,
        "content_version": _bind("p_version", _items.c.content_version),
        "updated_at": _bind("p_now", _items.c.updated_at),
    }


def lesson_upsert(dialect: str, source: Any = None) -> Any:
    """The lesson's row, read now (bound as p_user, p_course, p_item, p_version, p_now)."""
    now = _bind("p_now", _items.c.updated_at)
    return _upsert(
        dialect,
        {**_item_values("lesson"), "completed_at": now, "passed": False},
        {"completed_at": func.coalesce(_items.c.completed_at, now), "updated_at": now},
        source,
    )


def quiz_upsert(dialect: str, source: Any = None) -> Any:
    """The quiz's row: its best score and whether it was ever passed (bound as lesson_upsert,
    and p_score, p_passed, p_done_at)."""
    score = _bind("p_score", _items.c.best_score)
    passed = _bind("p_passed", _items.c.passed)
    done_at = _bind("p_done_at", _items.c.completed_at)
    return _upsert(
        dialect,
        {**_item_values("quiz"), "best_score": score, "passed": passed, "completed_at": done_at},
        {
            "best_score": case(
                (_items.c.best_score.is_(None), score),
                (_items.c.best_score < score, score),
                else_=_items.c.best_score,
            ),
            "passed": _items.c.passed | passed,
            "completed_at": func.coalesce(_items.c.completed_at, done_at),
            "content_version": _bind("p_version", _items.c.content_version),
            "updated_at": _bind("p_now", _items.c.updated_at),
        },
        source,
    )


def _unchanged() -> Any:
    """The enrolment still holds the last_activity_at its write's read saw (bound as e_seen)."""
    return _enrollments.c.last_activity_at.is_not_distinct_from(
        _bind("e_seen", _enrollments.c.last_activity_at)
    )


def unchanged_enrolment() -> Any:
    """PostgreSQL: a CTE of the learner's enrolment (bound as p_user, p_course), locked, if it
    still holds what the write's read saw (e_seen); empty when it changed meanwhile. Its
    statement's writes select from it, so they are all made or none. FOR UPDATE waits for a
    concurrent write of the same enrolment to commit, then checks the row as that write
    left it (READ COMMITTED), which a plain subquery would not: it sees the statement's
    snapshot."""
    return (
        select(_enrollments.c.id)
        .where(
            _enrollments.c.user_id == _bind("p_user", _enrollments.c.user_id),
            _enrollments.c.course_id == _bind("p_course", _enrollments.c.course_id),
            _unchanged(),
        )
        .with_for_update()
        .cte("unchanged_enrolment")
    )


def progress_update(*, completing: bool, source: Any = None) -> Any:
    """The enrolment's derived progress (bound as p_user, p_course, p_item, p_now and
    e_progress, e_status, e_score), if it still holds what the write's read saw (e_seen);
    with `source` (a CTE), only if the source has a row. Returns the enrolment's id: no row
    when nothing was written (ChangedMeanwhile)."""
    now = _bind("p_now", _enrollments.c.last_activity_at)
    values: dict[str, Any] = {
        "progress": _bind("e_progress", _enrollments.c.progress),
        "status": _bind("e_status", _enrollments.c.status),
        "score": _bind("e_score", _enrollments.c.score),
        "last_activity_at": now,
        "last_item_id": _bind("p_item", _enrollments.c.last_item_id),
    }
    if completing:
        # Two requests may both see the course as not yet completed: the first date stays.
        values["completed_at"] = func.coalesce(_enrollments.c.completed_at, now)
    update = _enrollments.update().where(
        _enrollments.c.user_id == _bind("p_user", _enrollments.c.user_id),
        _enrollments.c.course_id == _bind("p_course", _enrollments.c.course_id),
        _unchanged(),
    )
    if source is not None:
        update = update.where(exists(select(literal(1)).select_from(source)))
    return update.values(**values).returning(_enrollments.c.id)


def _lesson_and_progress(dialect: str) -> Any:
    """PostgreSQL: the lesson's row and the progress in one statement (one round trip), both
    only if the enrolment is unchanged since the read."""
    unchanged = unchanged_enrolment()
    return progress_update(completing=False, source=unchanged).add_cte(
        lesson_upsert(dialect, source=unchanged).cte("lesson_row")
    )


_BUILDERS: dict[str, Any] = {
    "lesson": lesson_upsert,
    "quiz": quiz_upsert,
    "progress": lambda _dialect: progress_update(completing=False),
    "completing": lambda _dialect: progress_update(completing=True),
    "lesson+progress": _lesson_and_progress,
}


# Each built and compiled for a dialect the first time it runs there.
_STATEMENTS = {name: PreparedQuery(build) for name, build in _BUILDERS.items()}


@dataclass(frozen=True, slots=True)
class ItemWrite:
    """One item row to write, and the progress the learner has once it is written
    (computed from the rows read and this one: no second read)."""

    kind: str  # lesson | quiz
    params: dict[str, Any]  # the statements' bound values
    state: CourseState  # after the write
    just_completed: bool


def lesson_write(
    *, user_id: int, course: CourseContent, item_id: str, read: WriteRead
) -> ItemWrite:
    """A lesson read (idempotent). Raises NotEnrolled."""
    if not read.enrolled:
        raise NotEnrolled(course.id)
    # The row as the upsert leaves it: read, and of the kind it had (or a new lesson row).
    old = next((s for s in read.items if s.item_id == item_id), None)
    row = ItemState(item_id, old.kind if old else "lesson", True, old.best_score if old else None)
    return _write("lesson", user_id, course, item_id, read, row, {})


def quiz_write(
    *,
    user_id: int,
    course: CourseContent,
    item_id: str,
    score: float,
    passed: bool,
    read: WriteRead,
) -> ItemWrite:
    """A quiz result: the best score kept, and whether it was ever passed."""
    old = next((s for s in read.items if s.item_id == item_id), None)
    if old is None:
        row = ItemState(item_id, "quiz", passed, score)
    else:
        best = score if old.best_score is None else max(old.best_score, score)
        row = ItemState(item_id, old.kind, old.done or passed, best)
    return _write(
        "quiz", user_id, course, item_id, read, row, {"p_score": score, "p_passed": passed}
    )


def _write(
    kind: str,
    user_id: int,
    course: CourseContent,
    item_id: str,
    read: WriteRead,
    row: ItemState,
    extra: dict[str, Any],
) -> ItemWrite:
    states = [s for s in read.items if s.item_id != item_id]
    states.append(row)
    progress = sticky_progress(course, states, read.completed_at)
    just_completed = read.completed_at is None and progress.completed
    now = datetime.now(UTC)
    if read.seen is not None and now <= read.seen:  # another machine's clock ran ahead
        now = read.seen + timedelta(microseconds=1)  # the mark changes with every write
    params = {
        "p_user": user_id,
        "p_course": course.id,
        "p_item": item_id,
        "p_version": course.version,
        "p_now": now,
        "e_progress": progress.percent,
        "e_status": progress.status,
        "e_score": progress.score,
        "e_seen": read.seen,
        **extra,
    }
    if kind == "quiz":
        params["p_done_at"] = now if extra["p_passed"] else None
    completed_at = now if just_completed else read.completed_at
    state = CourseState(read.enrollment_id, completed_at, item_id, progress)
    return ItemWrite(kind, params, state, just_completed)


def store(connection: Connection | LoopTransaction, write: ItemWrite) -> None:
    """Write the item row and the enrolment's derived progress (for reports), in the
    connection's transaction (no commit: the caller commits it with what completion
    earns, ecampus.progression). Raises ChangedMeanwhile, for the caller to roll back,
    when the enrolment changed since the read."""
    _STATEMENTS[write.kind].run(connection, write.params)
    progress = "completing" if write.just_completed else "progress"
    if not _STATEMENTS[progress].run(connection, write.params):
        raise ChangedMeanwhile(write.params["p_course"])


def store_lesson_at_once(connection: Connection, write: ItemWrite) -> None:
    """PostgreSQL, a lesson that does not complete the course: its row and the progress in
    one statement, which commits by itself (the connection in autocommit). Raises
    ChangedMeanwhile, with nothing written, when the enrolment changed since the read."""
    if not _STATEMENTS["lesson+progress"].run(connection, write.params):
        raise ChangedMeanwhile(write.params["p_course"])


async def store_lesson_on_loop(reader: LoopReader, write: ItemWrite) -> None:
    """`store_lesson_at_once` on the event loop's own PostgreSQL pipe (LoopReader.write)."""
    written = await reader.write(
        _STATEMENTS["lesson+progress"], write.params, order=write.params["p_user"]
    )
    if not written:
        raise ChangedMeanwhile(write.params["p_course"])


def enrolments_of(
    session: Session, *, user_id: int, include_withdrawn: bool = False
) -> list[Enrollment]:
    """The learner's enrolments, oldest first; withdrawn ones only when asked for."""
    query = select(Enrollment).where(Enrollment.user_id == user_id)  # type: ignore[arg-type]
    if not include_withdrawn:
        query = query.where(Enrollment.withdrawn_at.is_(None))  # type: ignore[union-attr]
    return list(session.scalars(query.order_by(Enrollment.enrolled_at)))  # type: ignore[arg-type]
