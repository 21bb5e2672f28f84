"""Properties over inputs nobody wrote by hand (hypothesis, derandomised, modest counts).

The course loader takes whatever an author's editor saved: it either accepts the course or
reports problems at `file:line:col`, and never raises. Grading takes whatever a client posts:
it returns a score in 0..100 whose `passed` agrees with the pass mark, or refuses the shape
with AnswerError (a 422), and never raises anything else.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecampus.courses import schema
from ecampus.courses.content import QuizContent
from ecampus.courses.loader import COURSE_FILE, load_course
from ecampus.quizzes.grading import AnswerError, grade
from tests.conftest import FIXTURE_COURSES

# Deterministic (the same examples on every run and machine) and small enough for CI.
PROPERTY = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
FIXTURE = FIXTURE_COURSES / "demo-course"
VALID = yaml.safe_load((FIXTURE / COURSE_FILE).read_text(encoding="utf-8"))

# Text that editors and copy-paste produce: accents, zero-width and direction marks, BOMs,
# NUL and other controls, emoji, tabs, YAML's reserved characters, lone surrogates.
odd_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(
            [
                "\u200b", "\u200e", "\u202e", "\ufeff", "\x00", "\x1b", "\t", "\r", "\u2028",
                "é", "ñ", "😀", ":", "#", "&", "*", "!", "|", ">", "%", "@", "`", "{", "[", "'", '"',
            ]
        ),
    ),
    max_size=40,
)  # fmt: skip
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | odd_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(odd_text | st.integers(), children, max_size=4)
    ),
    max_leaves=12,
)


@contextmanager
def course_folder(content: bytes) -> Iterator[Path]:
    """A copy of the fixture course whose course.yaml holds `content`."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "course"
        shutil.copytree(FIXTURE, folder)
        (folder / COURSE_FILE).write_bytes(content)
        yield folder


def check_loads_or_reports(content: bytes) -> None:
    with course_folder(content) as folder:
        course, problems = load_course(folder)
        # YAML also breaks lines at NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR.
        breaks = (b"\n", b"\r", "\x85".encode(), "\u2028".encode(), "\u2029".encode())
        lines = sum(content.count(b) for b in breaks) + 2
        if course is None:
            assert any(p.severity == "error" for p in problems), "refused without saying why"
        for problem in problems:
            assert problem.file.resolve().is_relative_to(folder.resolve()), problem.file
            assert 1 <= problem.line <= lines, (problem.line, lines)
            assert problem.column >= 1
            shown = problem.format()
            assert shown.startswith(f"{problem.file}:{problem.line}:{problem.column}: ")
            assert shown.split(": ", 1)[1].strip(), "a problem has a message"


def set_path(data: Any, path: list[int], value: Any) -> Any:
    """`data` with the node reached by following `path` (indices modulo the children)
    replaced by `value`."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    if isinstance(data, dict):
        keys = list(data)
        key = keys[path[0] % len(keys)]
        return {**data, key: set_path(data[key], path[1:], value)}
    index = path[0] % len(data)
    return [*data[:index], set_path(data[index], path[1:], value), *data[index + 1 :]]


def test_the_fixture_course_loads() -> None:
    """The control: the unmodified course is accepted."""
    course, problems = load_course(FIXTURE)
    assert course is not None, [p.format() for p in problems]


@PROPERTY
@given(st.binary(max_size=400))
def test_loader_on_garbage_bytes(content: bytes) -> None:
    check_loads_or_reports(content)


@PROPERTY
@given(odd_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_loader_on_odd_unicode(content: bytes) -> None:
    check_loads_or_reports(content)


@PROPERTY
@given(st.lists(st.integers(min_value=0, max_value=50), max_size=6), json_like)
def test_loader_on_a_course_with_one_node_replaced(path: list[int], value: Any) -> None:
    """Real courses with one value anywhere in them replaced by anything JSON can hold."""
    text = yaml.safe_dump(set_path(VALID, path, value), allow_unicode=True, sort_keys=False)
    check_loads_or_reports(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize(
    ("shape", "depth"),
    [("flow", 10), ("flow", 64), ("flow", 65), ("flow", 3000), ("block", 30), ("block", 400)],
)
def test_loader_on_deep_nesting(shape: str, depth: int) -> None:
    if shape == "flow":
        text = "id: deep\ntitle: " + "[" * depth + "]" * depth + "\n"
    else:
        text = "id: deep\n" + "".join(f"{' ' * i}k{i}:\n" for i in range(depth))
    check_loads_or_reports(text.encode())


@pytest.mark.parametrize("levels", [3, 20])
def test_loader_refuses_alias_bombs(levels: int) -> None:
    """A few lines whose aliases stand for billions of values ("billion laughs") are refused
    at once, instead of taking the server's memory (each level triples the one before)."""
    text = "id: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]\n" for i in range(1, levels + 1)
    )
    started = time.monotonic()
    check_loads_or_reports(text.encode())
    assert time.monotonic() - started < 20
    with course_folder(text.encode()) as folder:
        course, problems = load_course(folder)
    assert course is None
    if levels == 20:
        assert any("aliases" in p.message for p in problems), [p.message for p in problems]


# --- grading -------------------------------------------------------------------------------

QUIZ = QuizContent(
    id="quiz",
    title="Quiz",
    module_id="m",
    minutes=None,
    pass_mark=70,
    max_attempts=None,
    questions=(
        schema.SingleQuestion(id="s", type="single", prompt="?", options=["A", "B"], answer="b"),
        schema.MultipleQuestion(
            id="m", type="multiple", prompt="?", options=["X", "Y", "Z"], answer=["a", "c"]
        ),
        schema.TrueFalseQuestion(id="t", type="true_false", prompt="?", answer=True),
        schema.TextQuestion(id="w", type="text", prompt="?", answer=["IGM"]),
        schema.NumberQuestion(id="n", type="number", prompt="?", answer=7, tolerance=0.5, points=3),
    ),
    prompts_html={},
)
QUESTION_IDS = ["s", "m", "t", "w", "n"]
answer_value = st.one_of(
    json_like,
    st.sampled_from(["a", "b", "c", "true", "false", "7", "7,2", "IGM", "igm ", "NaN", "inf"]),
    st.lists(st.sampled_from(["a", "b", "c", "zz"]), max_size=4),
    st.floats(allow_nan=True, allow_infinity=True),
)
answers = st.one_of(
    st.dictionaries(st.sampled_from(QUESTION_IDS), answer_value),
    st.dictionaries(st.sampled_from(QUESTION_IDS) | odd_text, answer_value, max_size=6),
    json_like,
)


@PROPERTY
@given(answers, st.floats(min_value=0, max_value=100))
def test_grading_never_raises_and_scores_in_range(given_answers: Any, pass_mark: float) -> None:
    quiz = dataclasses.replace(QUIZ, pass_mark=pass_mark)
    try:
        result = grade(quiz, given_answers)
    except AnswerError as exc:
        refusal = str(exc)
        assert refusal, "a refusal says what is wrong"
        return
    assert 0 <= result.score <= 100
    assert result.passed == (result.score >= quiz.pass_mark)
    assert {r.question_id for r in result.results} == set(QUESTION_IDS)
    points = {q.id: q.points for q in quiz.questions}
    earned = sum(points[r.question_id] for r in result.results if r.correct)
    assert result.score == round(100 * earned / sum(points.values()), 2)


def test_grading_extremes() -> None:
    """The controls: the key scores 100 and passes, nothing answered scores 0 and fails."""
    key = {"s": "b", "m": ["a", "c"], "t": True, "w": "IGM", "n": 7}
    assert grade(QUIZ, key).score == 100
    assert grade(QUIZ, key).passed
    assert grade(QUIZ, {}).score == 0
    assert not grade(QUIZ, {}).passed
