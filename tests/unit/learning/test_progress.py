"""Progress is a pure function of the course and the learner's rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecampus.courses.loader import load_course
from ecampus.learning.progress import ItemState, compute

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "courses" / "demo-course"


@pytest.fixture(scope="module")
def course():  # type: ignore[no-untyped-def]
    content, problems = load_course(FIXTURE)
    assert content is not None, problems
    return content


def lesson(item: str) -> ItemState:
    return ItemState(item_id=item, kind="lesson", done=True)


def quiz(score: float, passed: bool) -> ItemState:
    return ItemState(item_id="quiz-1", kind="quiz", done=passed, best_score=score)


@pytest.mark.parametrize(
    ("rows", "percent", "status", "score", "next_item"),
    [
        ([], 0, "not_started", None, "leccion-1"),
        ([lesson("leccion-1")], 25, "in_progress", None, "leccion-2"),
        ([lesson("leccion-1"), lesson("leccion-2"), quiz(40, False)], 50, "in_progress", 40, "quiz-1"),
        ([lesson("leccion-1"), lesson("leccion-2"), quiz(90, True)], 75, "in_progress", 90, "leccion-3"),
        ([lesson("leccion-1"), lesson("leccion-2"), quiz(90, True), lesson("leccion-3")], 100, "completed", 90, None),
        ([lesson("leccion-1"), lesson("gone-item")], 25, "in_progress", None, "leccion-2"),
    ],
)  # fmt: skip
def test_progress(course, rows, percent, status, score, next_item) -> None:  # type: ignore[no-untyped-def]
    progress = compute(course, rows)
    assert progress.percent == percent
    assert progress.status == status
    assert progress.score == score
    assert progress.next_item_id == next_item


def test_a_row_counts_only_for_an_item_of_its_kind(course) -> None:  # type: ignore[no-untyped-def]
    # An old lesson row under an id that is now a quiz's does not pass the quiz.
    progress = compute(course, [ItemState(item_id="quiz-1", kind="lesson", done=True)])
    assert "quiz-1" not in progress.done
