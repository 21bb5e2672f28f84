"""Recompute stored progress when a course's content changes.

Enrolments keep their progress, status and score for reports. When authors publish a new
version (items added, removed or reordered), those stored values are recomputed for every
learner of the course from their item rows, and learners whom the new version completes get
their completion date and certificate, as if they had just finished.

Learners keep working while this runs. Each write is a compare-and-set: it lands only if the
enrolment still holds what was read (a learner's lesson or attempt always changes
`last_activity_at`), so a completion made meanwhile is never overwritten. Enrolments that
changed are read and recomputed again, a few rounds at most.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, bindparam, select
from sqlmodel import Session

from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent
from ecampus.dbretry import run_transaction
from ecampus.learning.models import Enrollment, ItemProgress
from ecampus.learning.progress import ItemState, Progress
from ecampus.learning.service import CourseState, sticky_progress
from ecampus.progression import completion

log = logging.getLogger(__name__)
_enrollments = Enrollment.__table__  # type: ignore[attr-defined]
_items = ItemProgress.__table__  # type: ignore[attr-defined]

ROUNDS = 5
# What a refresh reads and must still find when it writes.
_GUARDED = ("progress", "status", "score", "completed_at", "last_activity_at")


@dataclass(frozen=True, slots=True)
class _Read:
    enrollment_id: int
    user_id: int
    last_item_id: str | None
    stored: dict[str, Any]  # the _GUARDED columns as read


def _unchanged_since_read() -> ColumnElement[bool]:
    """WHERE the enrolment still holds what the refresh read (bound as old_<column>)."""
    return and_(
        _enrollments.c.id == bindparam("enrollment"),
        *(_enrollments.c[name].is_not_distinct_from(bindparam(f"old_{name}")) for name in _GUARDED),
    )


_GUARDED_UPDATE = (
    _enrollments.update()
    .where(_unchanged_since_read())
    .values(
        progress=bindparam("progress"),
        status=bindparam("status"),
        score=bindparam("score"),
        completed_at=bindparam("completed_at"),
    )
)


def _read(session: Session, course_id: str) -> tuple[list[_Read], dict[int, list[ItemState]]]:
    enrollments = [
        _Read(row.id, row.user_id, row.last_item_id, {n: row._mapping[n] for n in _GUARDED})
        for row in session.execute(
            select(
                _enrollments.c.id,
                _enrollments.c.user_id,
                _enrollments.c.last_item_id,
                *(_enrollments.c[n] for n in _GUARDED),
            ).where(
                _enrollments.c.course_id == course_id,
                # Withdrawn: kept as it was, and never completed (nor certified) by new
                # content; a restored one catches up at its next lesson or attempt.
                _enrollments.c.withdrawn_at.is_(None),
            )
        )
    ]
    items: dict[int, list[ItemState]] = defaultdict(list)
    for user_id, item_id, kind, done, best in session.execute(
        select(
            _items.c.user_id,
            _items.c.item_id,
            _items.c.kind,
            _items.c.completed_at.is_not(None) | _items.c.passed,
            _items.c.best_score,
        ).where(_items.c.course_id == course_id)
    ):
        items[user_id].append(
            ItemState(item_id=item_id, kind=kind, done=bool(done), best_score=best)
        )
    session.rollback()  # end the read: the writes below are their own short transactions
    return enrollments, items


def _parameters(read: _Read, progress: Progress, completed_at: datetime | None) -> dict[str, Any]:
    return {
        "enrollment": read.enrollment_id,
        "progress": progress.percent,
        "status": progress.status,
        "score": progress.score,
        "completed_at": completed_at,
        **{f"old_{name}": value for name, value in read.stored.items()},
    }


def _complete(
    session: Session,
    *,
    read: _Read,
    progress: Progress,
    course: CourseContent,
    catalogue: Catalogue,
) -> bool:
    """Store a completion the new version brings, with its certificate, in one transaction;
    False when the learner's enrolment changed since it was read."""

    def work() -> bool:
        now = datetime.now(UTC)
        if (
            session.connection().execute(_GUARDED_UPDATE, _parameters(read, progress, now)).rowcount
            != 1
        ):
            session.rollback()
            return False
        state = CourseState(read.enrollment_id, now, read.last_item_id, progress)
        completion.settle(
            session, user_id=read.user_id, course=course, catalogue=catalogue, state=state
        )
        session.commit()
        return True

    return run_transaction(session, work)


def _round(session: Session, *, course: CourseContent, catalogue: Catalogue) -> tuple[int, int]:
    """Read, recompute and write once; return (enrolments changed, writes refused)."""
    enrollments, items = _read(session, course.id)
    updates: list[dict[str, Any]] = []
    completions: list[tuple[_Read, Progress]] = []
    for read in enrollments:
        completed_at = read.stored["completed_at"]
        progress = sticky_progress(course, items[read.user_id], completed_at)
        if completed_at is None and progress.completed:
            completions.append((read, progress))
        elif (progress.percent, progress.status, progress.score) != (
            read.stored["progress"],
            read.stored["status"],
            read.stored["score"],
        ):
            updates.append(_parameters(read, progress, completed_at))
    changed = refused = 0
    if updates:

        def write() -> int:
            written: int = session.connection().execute(_GUARDED_UPDATE, updates).rowcount
            session.commit()
            return written

        written = run_transaction(session, write)
        changed += written
        refused += len(updates) - written
    for read, progress in completions:
        if _complete(session, read=read, progress=progress, course=course, catalogue=catalogue):
            changed += 1
        else:
            refused += 1
    return changed, refused


def refresh_course(session: Session, *, course: CourseContent, catalogue: Catalogue) -> int:
    """Bring every enrolment of the course up to date; return how many changed."""
    changed = 0
    for _ in range(ROUNDS):
        written, refused = _round(session, course=course, catalogue=catalogue)
        changed += written
        if not refused:
            return changed
    log.warning(
        "course %s version %s: learners kept changing their progress during the refresh; "
        "%d enrolment(s) will be brought up to date by their next lesson or attempt",
        course.id,
        course.version,
        refused,
    )
    return changed


def refresh_courses(engine: Engine, catalogue: Catalogue, courses: list[CourseContent]) -> None:
    for course in courses:
        with Session(engine) as session:
            changed = refresh_course(session, course=course, catalogue=catalogue)
        if changed:
            log.info("course %s version %s: progress updated for %d learners",
                     course.id, course.version, changed)  # fmt: skip
