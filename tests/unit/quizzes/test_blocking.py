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
    ("used", "passed", "granted", "blocked"),
    [
        (0, False, 0, False),  # not tried yet
        (2, False, 0, False),  # one attempt left
        (3, False, 0, True),  # every attempt used, never passed
        (4, False, 0, True),  # more rows than the limit (the limit was lowered later)
        (3, True, 0, False),  # passed on the last attempt
        (1, True, 0, False),
        (3, False, 1, False),  # a coordinator granted one more
        (4, False, 1, True),  # ... and it was used too
        (4, False, 2, False),  # grants add up
        (6, False, 2, True),
    ],
)
def test_exhausted(course, used: int, passed: bool, granted: int, blocked: bool) -> None:  # type: ignore[no-untyped-def]
    rows = (
        [ItemState("quiz-1", "quiz", done=passed, best_score=90 if passed else 20)] if used else []
    )
    progress = compute(course, rows)
    stuck = exhausted(
        course, progress, {"quiz-1": used} if used else {}, {"quiz-1": granted} if granted else {}
    )
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


@pytest.mark.parametrize(
    ("limit", "used", "granted", "allowed", "left"),
    [
        (3, 0, 0, 3, 3),
        (3, 3, 0, 3, 0),
        (3, 3, 2, 5, 2),
        (3, 6, 2, 5, 0),  # never below zero
        (None, 9, 0, None, None),  # unlimited
    ],
)
def test_allowed_and_remaining_count_grants(  # type: ignore[no-untyped-def]
    course, limit: int | None, used: int, granted: int, allowed: int | None, left: int | None
) -> None:
    from dataclasses import replace

    from ecampus.quizzes.service import allowed as allowed_attempts
    from ecampus.quizzes.service import remaining

    quiz = replace(course.quizzes["quiz-1"], max_attempts=limit)
    assert allowed_attempts(quiz, granted) == allowed
    assert remaining(quiz, used, granted) == left
