"""Progress: a pure function of the course content and the learner's item rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import fmean

from ecampus.courses.content import CourseContent

NOT_STARTED = "not_started"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class ItemState:
    item_id: str
    kind: str
    done: bool  # lesson read, or quiz passed
    best_score: float | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    percent: int
    status: str
    score: float | None
    done: frozenset[str]
    best_scores: dict[str, float] = field(default_factory=dict)
    next_item_id: str | None = None

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED


def compute(course: CourseContent, states: Iterable[ItemState]) -> Progress:
    """Completed when every current lesson is done and every current quiz passed.

    Rows for items no longer in the course are kept in the database but do not count.
    """
    rows = {s.item_id: s for s in states}
    required = course.order
    # A row counts only for an item of the same kind: a lesson read does not pass a quiz
    # that an author later gave the same id.
    done = frozenset(
        i for i in required if i in rows and rows[i].done and rows[i].kind == course.items[i].type
    )
    best = {
        i: s.best_score for i, s in rows.items() if i in course.quizzes and s.best_score is not None
    }
    percent = (100 * len(done)) // len(required) if required else 0
    if required and len(done) == len(required):
        status = COMPLETED
    elif rows:
        status = IN_PROGRESS
    else:
        status = NOT_STARTED
    score = round(fmean(best.values()), 2) if best else None
    following = next((i for i in required if i not in done), None)
    return Progress(
        percent=percent,
        status=status,
        score=score,
        done=done,
        best_scores=best,
        next_item_id=following,
    )
