"""A learner stuck at a quiz: every attempt used, never passed. The course cannot be
completed until a coordinator grants another attempt (ecampus.corrections), so pages say
so instead of "Continue"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlmodel import Session

from ecampus.accounts.sessions import Account
from ecampus.courses.content import CourseContent, QuizContent
from ecampus.dbfast import LoopReader, PreparedQuery
from ecampus.learning import service as learning
from ecampus.learning.progress import Progress
from ecampus.learning.service import CourseState
from ecampus.quizzes.models import Attempt, AttemptGrant
from ecampus.quizzes.service import remaining


def exhausted(
    course: CourseContent,
    progress: Progress,
    used: Mapping[str, int],
    granted: Mapping[str, int] | None = None,
) -> tuple[QuizContent, ...]:
    """The quizzes, in course order, that are not passed and have no attempt left (extra
    attempts a coordinator granted count)."""
    extra = granted or {}
    return tuple(
        quiz
        for quiz in course.quizzes.values()
        if quiz.id not in progress.done
        and remaining(quiz, used.get(quiz.id, 0), extra.get(quiz.id, 0)) == 0
    )


def attempts_by_quiz(db: Session | Connection, *, user_id: int, course_id: str) -> dict[str, int]:
    """How many attempts the learner has made at each quiz of the course (one query)."""
    rows = db.execute(
        select(Attempt.item_id, func.count())  # type: ignore[call-overload]
        .where(Attempt.user_id == user_id, Attempt.course_id == course_id)
        .group_by(Attempt.item_id)
    )
    return {str(item_id): int(count) for item_id, count in rows}


def grants_by_quiz(db: Session | Connection, *, user_id: int, course_id: str) -> dict[str, int]:
    """How many extra attempts coordinators granted the learner at each quiz (one query)."""
    rows = db.execute(
        select(AttemptGrant.item_id, func.sum(AttemptGrant.count))  # type: ignore[call-overload]
        .where(AttemptGrant.user_id == user_id, AttemptGrant.course_id == course_id)
        .group_by(AttemptGrant.item_id)
    )
    return {str(item_id): int(count or 0) for item_id, count in rows}


def _summary(dialect: str, table: Any, count: Any) -> Any:
    """'item:count,item:count' of the learner's rows in the course, one scalar (item ids
    are slugs: no colon or comma in them); bound as user_id and course_id, so not tied to
    the rows beside it: PostgreSQL and SQLite run it once per query."""
    per_item = (
        select(table.c.item_id.label("item"), count.label("n"))
        .where(table.c.user_id == bindparam("user_id"), table.c.course_id == bindparam("course_id"))
        .group_by(table.c.item_id)
        .subquery()
    )
    pair = per_item.c.item + literal_column("':'") + cast(per_item.c.n, String)
    joined = func.string_agg if dialect == "postgresql" else func.group_concat
    return select(joined(pair, literal_column("','"))).scalar_subquery()


def _both_counts(dialect: str) -> tuple[Any, Any]:
    """The attempts used and the attempts granted per quiz, each as one `_summary`."""
    _attempts, _grants = Attempt.__table__, AttemptGrant.__table__  # type: ignore[attr-defined]
    return (
        _summary(dialect, _attempts, func.count()),
        _summary(dialect, _grants, func.sum(_grants.c.count)),
    )


# Both counts in one round trip (run by ecampus.dbfast): alone, for the worker thread's way,
# and beside the lesson page's query for the course page's only query (one statement: on
# PostgreSQL the counts as a second statement cost the server a bind and an execution of
# their own on every view of a course with attempt limits).
_COUNTS = PreparedQuery(lambda dialect: select(*_both_counts(dialect)))
_COURSE_PAGE = PreparedQuery(lambda dialect: learning.page_query_of(*_both_counts(dialect)))


def _parsed(summary: str | None) -> dict[str, int]:
    if not summary:
        return {}
    counts = {}
    for pair in summary.split(","):
        item, _, count = pair.rpartition(":")
        counts[item] = int(count or 0)
    return counts


async def page_state_and_counts_on_loop(
    reader: LoopReader, *, user_id: int, session_id: str, course: CourseContent
) -> tuple[Account | None, CourseState, tuple[dict[str, int], dict[str, int]]]:
    """learning.page_state_on_loop and both counts by quiz in one statement, for the course page
    of a course with attempt limits (the counts are for a caller whose session is live);
    raises ReaderBusy when the caller should read in a worker thread instead."""
    account, state, extra = await learning.page_state_and_extra_on_loop(
        reader, _COURSE_PAGE, user_id=user_id, session_id=session_id, course=course
    )
    return account, state, _counts_of(extra)


def _counts_of(summaries: Sequence[Any]) -> tuple[dict[str, int], dict[str, int]]:
    used, granted = summaries or (None, None)
    return _parsed(used), _parsed(granted)


def counts_by_quiz(
    engine: Engine, *, user_id: int, course_id: str
) -> tuple[dict[str, int], dict[str, int]]:
    """attempts_by_quiz and grants_by_quiz in one query, on the pool's driver connection."""
    (row,) = _COUNTS.rows(engine, {"user_id": user_id, "course_id": course_id})
    return _counts_of(row)


def _may_block(course: CourseContent, progress: Progress) -> bool:
    """Some unpassed quiz has an attempt limit: only then is the database asked."""
    return not progress.completed and any(
        q.max_attempts is not None and q.id not in progress.done for q in course.quizzes.values()
    )


def may_limit(course: CourseContent) -> bool:
    """Some quiz of the course has an attempt limit: a learner might be stuck at it."""
    return any(q.max_attempts is not None for q in course.quizzes.values())


def blocking_from_counts(
    course: CourseContent, progress: Progress, counts: tuple[Mapping[str, int], Mapping[str, int]]
) -> QuizContent | None:
    """`blocking_quiz`, given the counts by quiz (used, granted)."""
    if not _may_block(course, progress):
        return None
    used, granted = counts
    stuck = exhausted(course, progress, used, granted)
    return stuck[0] if stuck else None


def blocking_quiz(
    db: Session | Connection | Engine, *, user_id: int, course: CourseContent, progress: Progress
) -> QuizContent | None:
    """The first quiz that keeps the learner from completing the course, if any. Asks the
    database only when some unpassed quiz has an attempt limit (one query given the
    engine, two given a session or connection)."""
    if not _may_block(course, progress):
        return None
    if isinstance(db, Engine):
        counts = counts_by_quiz(db, user_id=user_id, course_id=course.id)
    else:
        counts = (
            attempts_by_quiz(db, user_id=user_id, course_id=course.id),
            grants_by_quiz(db, user_id=user_id, course_id=course.id),
        )
    return blocking_from_counts(course, progress, counts)
