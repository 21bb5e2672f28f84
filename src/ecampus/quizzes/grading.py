"""Grading: pure functions from a quiz and a learner's answers to a score."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ecampus.courses import schema
from ecampus.courses.content import AnyQuestion, QuizContent
from ecampus.courses.textmatch import normalise_text


class AnswerError(ValueError):
    """The answers are malformed (not merely wrong): the request is refused."""

    def __init__(self, message: str, question_id: str | None = None) -> None:
        super().__init__(message)
        self.question_id = question_id


@dataclass(frozen=True, slots=True)
class QuestionResult:
    question_id: str
    correct: bool
    given: Any
    explanation: str | None
    feedback: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Grade:
    score: float  # 0-100, two decimals
    passed: bool
    pass_mark: float
    answers: dict[str, Any]  # normalised: what is stored with the attempt
    results: tuple[QuestionResult, ...]


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise AnswerError("expects true or false")


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        raise AnswerError("expects a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            # Spanish speakers write a decimal comma.
            number = float(value.strip().replace(" ", "").replace(",", "."))
        except ValueError:
            raise AnswerError("expects a number") from None
    else:
        raise AnswerError("expects a number")
    if not math.isfinite(number):
        raise AnswerError("expects a finite number")
    return number


def _normalise(question: AnyQuestion, value: Any) -> Any:
    """Check the shape of one answer and return it normalised; None means unanswered."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(question, schema.SingleQuestion):
        ids = {o.id for o in question.options}
        if not isinstance(value, str) or value not in ids:
            raise AnswerError(f"expects one of the option ids {', '.join(sorted(ids))}")
        return value
    if isinstance(question, schema.MultipleQuestion):
        ids = {o.id for o in question.options}
        chosen = [value] if isinstance(value, str) else value
        if not isinstance(chosen, list) or not all(isinstance(v, str) and v in ids for v in chosen):
            raise AnswerError(f"expects a list of option ids from {', '.join(sorted(ids))}")
        return sorted(set(chosen))
    if isinstance(question, schema.TrueFalseQuestion):
        return _as_bool(value)
    if isinstance(question, schema.TextQuestion):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise AnswerError("expects text")
        text = str(value)
        if len(text) > 1000:
            raise AnswerError("answer is too long (1000 characters at most)")
        return text.strip()
    return _as_number(value)


def _is_correct(question: AnyQuestion, given: Any) -> bool:
    if given is None:
        return False
    if isinstance(question, schema.SingleQuestion):
        return given == question.answer
    if isinstance(question, schema.MultipleQuestion):
        return set(given) == set(question.answer)
    if isinstance(question, schema.TrueFalseQuestion):
        return given is question.answer
    if isinstance(question, schema.TextQuestion):
        return normalise_text(given) in _accepted(tuple(question.answer))
    return abs(given - question.answer) <= question.tolerance + 1e-9


@lru_cache(maxsize=4096)
def _accepted(answers: tuple[str, ...]) -> frozenset[str]:
    """A text question's accepted answers, normalised (once per set of answers)."""
    return frozenset(normalise_text(a) for a in answers)


def _feedback(question: AnyQuestion, given: Any) -> tuple[str, ...]:
    if not isinstance(question, schema.SingleQuestion | schema.MultipleQuestion) or given is None:
        return ()
    chosen = {given} if isinstance(given, str) else set(given)
    return tuple(o.feedback for o in question.options if o.id in chosen and o.feedback)


def grade(quiz: QuizContent, answers: Any) -> Grade:
    """Grade a submission; raise AnswerError when its shape is wrong."""
    if not isinstance(answers, dict):
        raise AnswerError("answers must be an object of question id to answer")
    known = {q.id for q in quiz.questions}
    unknown = sorted(str(k) for k in answers if k not in known)
    if unknown:
        raise AnswerError(f"unknown question ids: {', '.join(unknown)}")
    normalised: dict[str, Any] = {}
    results = []
    earned = total = 0.0
    for question in quiz.questions:
        try:
            given = _normalise(question, answers.get(question.id))
        except AnswerError as exc:
            raise AnswerError(f"{question.id}: {exc}", question_id=question.id) from None
        normalised[question.id] = given
        correct = _is_correct(question, given)
        total += question.points
        earned += question.points if correct else 0
        results.append(
            QuestionResult(
                question_id=question.id,
                correct=correct,
                given=given,
                explanation=question.explanation,
                feedback=_feedback(question, given),
            )
        )
    score = round(100 * earned / total, 2) if total else 0.0
    return Grade(
        score=score,
        passed=score >= quiz.pass_mark,
        pass_mark=quiz.pass_mark,
        answers=normalised,
        results=tuple(results),
    )


def correct_answer(question: AnyQuestion) -> Any:
    """The expected answer, in the shape the API accepts (revealed only after submitting)."""
    if isinstance(question, schema.TextQuestion):
        return question.answer[0]
    return question.answer


def answer_key(quiz: QuizContent) -> dict[str, Any]:
    """Every question's expected answer, as the API takes answers (the author's key)."""
    return {
        question.id: (
            list(answer) if isinstance(answer := correct_answer(question), tuple) else answer
        )
        for question in quiz.questions
    }
