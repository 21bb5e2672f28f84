"""Recompute stored progress when a course's content changes.

Enrolments keep their progress, status and score for reports. When authors publish a new
version (items added, removed or reordered), those stored values are recomputed for every
learner of the course from their item rows, and learners whom the new version completes get
their completion date and certificate, as if they had just finished.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, select
from sqlmodel import Session

from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent
from ecampus.learning import completion
from ecampus.learning.models import Enrollment, ItemProgress
from ecampus.learning.progress import ItemState
from ecampus.learning.service import CourseState, sticky_progress

log = logging.getLogger(__name__)
_enrollments = Enrollment.__table__  # type: ignore[attr-defined]
_items = ItemProgress.__table__  # type: ignore[attr-defined]


def refresh_course(session: Session, *, course: CourseContent, catalogue: Catalogue) -> int:
    """Bring every enrolment of the course up to date; return how many changed."""
    enrollments = session.execute(
        select(
            _enrollments.c.id,
            _enrollments.c.user_id,
            _enrollments.c.progress,
            _enrollments.c.status,
            _enrollments.c.score,
            _enrollments.c.completed_at,
            _enrollments.c.last_item_id,
        ).where(_enrollments.c.course_id == course.id)
    ).all()
    rows: dict[int, list[ItemState]] = defaultdict(list)
    for user_id, item_id, kind, done, best in session.execute(
        select(
            _items.c.user_id,
            _items.c.item_id,
            _items.c.kind,
            _items.c.completed_at.is_not(None) | _items.c.passed,
            _items.c.best_score,
        ).where(_items.c.course_id == course.id)
    ):
        rows[user_id].append(
            ItemState(item_id=item_id, kind=kind, done=bool(done), best_score=best)
        )
    now = datetime.now(UTC)
    updates = []
    completed: list[tuple[int, CourseState]] = []
    for enrollment_id, user_id, percent, status, score, completed_at, last_item in enrollments:
        progress = sticky_progress(course, rows[user_id], completed_at)
        newly_completed = completed_at is None and progress.completed
        if (progress.percent, progress.status, progress.score) == (percent, status, score) and (
            not newly_completed
        ):
            continue
        finished = now if newly_completed else completed_at
        updates.append(
            {
                "enrollment": enrollment_id,
                "progress": progress.percent,
                "status": progress.status,
                "score": progress.score,
                "completed_at": finished,
            }
        )
        if newly_completed:
            completed.append((user_id, CourseState(enrollment_id, finished, last_item, progress)))
    if updates:
        session.execute(
            _enrollments.update()
            .where(_enrollments.c.id == bindparam("enrollment"))
            .values(
                progress=bindparam("progress"),
                status=bindparam("status"),
                score=bindparam("score"),
                completed_at=bindparam("completed_at"),
            ),
            updates,
        )
        session.commit()
    for user_id, state in completed:
        completion.settle(session, user_id=user_id, course=course, catalogue=catalogue, state=state)
    return len(updates)


def refresh_courses(engine: Engine, catalogue: Catalogue, courses: list[CourseContent]) -> None:
    for course in courses:
        with Session(engine) as session:
            changed = refresh_course(session, course=course, catalogue=catalogue)
        if changed:
            log.info("course %s version %s: progress updated for %d learners",
                     course.id, course.version, changed)  # fmt: skip
