"""Grading is a pure function: table-driven cases for every question type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecampus.courses import schema
from ecampus.courses.content import QuizContent
from ecampus.courses.loader import load_course
from ecampus.quizzes.grading import AnswerError, answer_key, grade, normalise_text

QUESTIONS = {
    "single": schema.SingleQuestion(
        id="s", type="single", prompt="?", options=["Uno", "Dos", "Tres"], answer="b"
    ),
    "multiple": schema.MultipleQuestion(
        id="m",
        type="multiple",
        prompt="?",
        options=[{"id": "x", "text": "X", "feedback": "Bien"}, "Y", "Z"],
        answer=["x", "c"],
    ),
    "true_false": schema.TrueFalseQuestion(id="t", type="true_false", prompt="?", answer=True),
    "text": schema.TextQuestion(
        id="w", type="text", prompt="?", answer=["IGM", "Instituto Guatemalteco de Migración"]
    ),
    "number": schema.NumberQuestion(id="n", type="number", prompt="?", answer=80, tolerance=0.5),
}


def quiz(*kinds: str, pass_mark: float = 70) -> QuizContent:
    questions = tuple(QUESTIONS[k] for k in kinds)
    return QuizContent(
        id="quiz",
        title="Quiz",
        module_id="m",
        minutes=None,
        pass_mark=pass_mark,
        max_attempts=None,
        questions=questions,
        prompts_html={q.id: q.prompt for q in questions},
    )


@pytest.mark.parametrize(
    ("kind", "given", "correct"),
    [
        ("single", "b", True),
        ("single", "a", False),
        ("single", None, False),
        ("multiple", ["c", "x"], True),
        ("multiple", ["x"], False),
        ("multiple", ["x", "b", "c"], False),
        ("multiple", "x", False),
        ("true_false", True, True),
        ("true_false", "true", True),
        ("true_false", "false", False),
        ("text", "  igm ", True),
        ("text", "instituto guatemalteco de migracion", True),
        ("text", "INSTITUTO   GUATEMALTECO DE MIGRACIÓN", True),
        ("text", "Migración", False),
        ("number", 80, True),
        ("number", "80,4", True),
        ("number", 80.6, False),
        ("number", "", False),
    ],
)
def test_each_question_type(kind: str, given: Any, correct: bool) -> None:
    result = grade(quiz(kind), {QUESTIONS[kind].id: given})
    assert result.results[0].correct is correct
    assert result.score == (100 if correct else 0)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([], "answers must be an object"),
        ({"nope": 1}, "unknown question ids: nope"),
        ({"s": "z"}, "s: expects one of the option ids a, b, c"),
        ({"s": ["a"]}, "s: expects one of the option ids"),
        ({"m": ["x", "q"]}, "m: expects a list of option ids"),
        ({"t": "maybe"}, "t: expects true or false"),
        ({"n": "ochenta"}, "n: expects a number"),
        ({"n": "nan"}, "n: expects a finite number"),
        ({"n": True}, "n: expects a number"),
        ({"w": {"a": 1}}, "w: expects text"),
        ({"w": "x" * 1001}, "w: answer is too long"),
    ],
)
def test_malformed_answers_are_refused(answers: Any, message: str) -> None:
    with pytest.raises(AnswerError, match=message):
        grade(quiz(*QUESTIONS), answers)


def test_score_pass_mark_and_feedback() -> None:
    every = quiz(*QUESTIONS, pass_mark=60)
    result = grade(every, {"s": "b", "m": ["x"], "t": True, "w": "igm", "n": 1})
    assert result.score == 60
    assert result.passed is True
    assert result.results[1].feedback == ("Bien",)
    assert grade(every, {}).score == 0
    assert grade(every, {}).passed is False
    assert grade(quiz(*QUESTIONS, pass_mark=100), {"s": "b"}).passed is False


def test_points_weight_the_score() -> None:
    heavy = schema.SingleQuestion(
        id="h", type="single", prompt="?", options=["a", "b"], answer="a", points=3
    )
    light = schema.TrueFalseQuestion(id="l", type="true_false", prompt="?", answer=False)
    weighted = QuizContent("q", "Q", "m", None, 70, None, (heavy, light), {"h": "", "l": ""})
    assert grade(weighted, {"h": "a", "l": True}).score == 75


def test_normalise_text() -> None:
    assert normalise_text("  Ñandú  Águila ") == "nandu aguila"


def test_every_bundled_quiz_scores_100_with_its_answer_key() -> None:
    """The author's key, as the API takes answers, passes every bundled quiz in full (a quiz
    whose key does not is mis-authored: a learner could never reach 100)."""
    courses = Path(__file__).resolve().parents[3] / "courses"
    quizzes = 0
    for course_file in sorted(courses.glob("*/course.yaml")):
        content, _problems = load_course(course_file.parent, render=False)
        assert content is not None, course_file
        for item in content.items.values():
            if isinstance(item, QuizContent):
                quizzes += 1
                result = grade(item, answer_key(item))
                assert result.score == 100, (content.id, item.id)
                assert result.passed
    assert quizzes >= 10
