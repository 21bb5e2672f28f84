"""A quiz blocks a course when it is not passed and has no attempt left."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecampus.courses.loader import load_course
from ecampus.learning.progress import ItemState, compute
from ecampus.quizzes.blocking import exhausted

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "courses" / "demo-course"


@pytest.fixture(scope="module")
def course():  # type: ignore[no-untyped-def]
    content, problems = load_course(FIXTURE)
    assert content is not None, problems
    assert content.quizzes["quiz-1"].max_attempts == 3
    return content


@pytest.mark.parametrize(
    ("used", "passed", "blocked"),
    [
        (0, False, False),  # not tried yet
        (2, False, False),  # one attempt left
        (3, False, True),  # every attempt used, never passed
        (4, False, True),  # more rows than the limit (the limit was lowered later)
        (3, True, False),  # passed on the last attempt
        (1, True, False),
    ],
)
def test_exhausted(course, used: int, passed: bool, blocked: bool) -> None:  # type: ignore[no-untyped-def]
    rows = (
        [ItemState("quiz-1", "quiz", done=passed, best_score=90 if passed else 20)] if used else []
    )
    progress = compute(course, rows)
    stuck = exhausted(course, progress, {"quiz-1": used} if used else {})
    assert [q.id for q in stuck] == (["quiz-1"] if blocked else [])


def test_unlimited_quizzes_never_block(course) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    unlimited = replace(course.quizzes["quiz-1"], max_attempts=None)
    modules = tuple(
        replace(m, items=tuple(unlimited if i.id == "quiz-1" else i for i in m.items))
        for m in course.modules
    )
    open_course = replace(course, modules=modules)
    progress = compute(open_course, [ItemState("quiz-1", "quiz", done=False, best_score=0)])
    assert exhausted(open_course, progress, {"quiz-1": 50}) == ()
