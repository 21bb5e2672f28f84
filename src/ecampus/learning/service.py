"""Enrolment and progress: what the learner did, stored one row per item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ecampus.accounts import sessions as account_sessions
from ecampus.accounts.sessions import Account
from ecampus.courses.content import CourseContent
from ecampus.dbfast import LoopReader, PreparedQuery
from ecampus.dbutil import upsert
from ecampus.learning import progress as progress_rules
from ecampus.learning.models import Enrollment, ItemProgress
from ecampus.learning.progress import ItemState, Progress

_enrollments = Enrollment.__table__  # type: ignore[attr-defined]
_items = ItemProgress.__table__  # type: ignore[attr-defined]


class NotEnrolled(LookupError):
    pass


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
    params = {
        **account_sessions.lookup_params(user_id=user_id, session_id=session_id),
        "course_id": course.id,
    }
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
    params = {
        **account_sessions.lookup_params(user_id=user_id, session_id=session_id),
        "course_id": course.id,
    }
    return _page_state_of(course, await reader.rows(_PAGE, params))


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


def require_enrolment(session: Session, *, user_id: int, course: CourseContent) -> CourseState:
    state = course_state(session, user_id=user_id, course=course)
    if not state.enrolled:
        raise NotEnrolled(course.id)
    return state


def mark_lesson_done(
    session: Session, *, user_id: int, course: CourseContent, item_id: str
) -> tuple[CourseState, bool]:
    """Record a lesson as read (idempotent, no commit); returns the new state and whether it
    just completed."""
    before = require_enrolment(session, user_id=user_id, course=course)
    now = datetime.now(UTC)
    upsert(
        session,
        _items,
        values={
            "user_id": user_id,
            "course_id": course.id,
            "item_id": item_id,
            "kind": "lesson",
            "completed_at": now,
            "passed": False,
            "content_version": course.version,
            "updated_at": now,
        },
        conflict=["user_id", "course_id", "item_id"],
        update={
            "completed_at": func.coalesce(_items.c.completed_at, now),
            "updated_at": now,
        },
    )
    return refresh_enrolment(
        session, user_id=user_id, course=course, item_id=item_id, before=before
    )


def record_quiz_result(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    item_id: str,
    score: float,
    passed: bool,
) -> None:
    """Keep the best score of a quiz and whether it was ever passed (no commit)."""
    now = datetime.now(UTC)
    upsert(
        session,
        _items,
        values={
            "user_id": user_id,
            "course_id": course.id,
            "item_id": item_id,
            "kind": "quiz",
            "best_score": score,
            "passed": passed,
            "completed_at": now if passed else None,
            "content_version": course.version,
            "updated_at": now,
        },
        conflict=["user_id", "course_id", "item_id"],
        update={
            "best_score": case(
                (_items.c.best_score.is_(None), score),
                (_items.c.best_score < score, score),
                else_=_items.c.best_score,
            ),
            "passed": _items.c.passed | passed,
            "completed_at": func.coalesce(_items.c.completed_at, now if passed else None),
            "content_version": course.version,
            "updated_at": now,
        },
    )


def refresh_enrolment(
    session: Session,
    *,
    user_id: int,
    course: CourseContent,
    item_id: str | None,
    before: CourseState,
) -> tuple[CourseState, bool]:
    """Store the derived progress on the enrolment (for reports). No commit: the caller
    commits it with what completion earns (ecampus.progression)."""
    state = course_state(session, user_id=user_id, course=course)
    progress = state.progress
    just_completed = before.completed_at is None and progress.completed
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "progress": progress.percent,
        "status": progress.status,
        "score": progress.score,
        "last_activity_at": now,
    }
    if item_id is not None:
        values["last_item_id"] = item_id
    if just_completed:
        # Two requests may both see the course as not yet completed: the first date stays.
        values["completed_at"] = func.coalesce(_enrollments.c.completed_at, now)
    session.execute(
        _enrollments.update()
        .where(_enrollments.c.user_id == user_id, _enrollments.c.course_id == course.id)
        .values(**values)
    )
    if just_completed:
        state = CourseState(state.enrollment_id, now, item_id, progress)
    return state, just_completed


def enrolments_of(
    session: Session, *, user_id: int, include_withdrawn: bool = False
) -> list[Enrollment]:
    """The learner's enrolments, oldest first; withdrawn ones only when asked for."""
    query = select(Enrollment).where(Enrollment.user_id == user_id)  # type: ignore[arg-type]
    if not include_withdrawn:
        query = query.where(Enrollment.withdrawn_at.is_(None))  # type: ignore[union-attr]
    return list(session.scalars(query.order_by(Enrollment.enrolled_at)))  # type: ignore[arg-type]
