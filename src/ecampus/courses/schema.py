"""The course format (v1) as pydantic models: the contract authors write to.

These models describe files, not tables. They forbid unknown keys so that a typo is an
error with a position, never a silently ignored setting.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

Id = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", min_length=1, max_length=80),
    Field(description="Stable identifier: lowercase letters, digits and single hyphens."),
]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Percent = Annotated[float, Field(ge=0, le=100)]
LanguageTag = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"),
    Field(description="BCP 47 language tag, e.g. es, en, fr, pt-BR."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Option(_Strict):
    """An answer option; ids default to a, b, c ... by position."""

    id: Annotated[str, Field(min_length=1, max_length=40, description="Option id.")]
    text: Text = Field(description="What the learner reads.")
    feedback: str | None = Field(
        default=None, description="Shown after submitting when this option was chosen."
    )


def _option_id(position: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[position] if position < len(letters) else f"o{position + 1}"


class _Question(_Strict):
    id: Id = Field(description="Unique within its quiz.")
    prompt: Text = Field(description="The question, in Markdown.")
    explanation: str | None = Field(
        default=None, description="Shown with the result after the learner submits."
    )
    points: float = Field(default=1, gt=0, description="Weight of the question in the score.")


class _ChoiceQuestion(_Question):
    options: list[Option] = Field(
        min_length=2,
        description="Plain strings (ids a, b, c ... by position) or {id, text, feedback}.",
    )

    @field_validator(
        "options", mode="before", json_schema_input_type=list[Option | str | int | float]
    )
    @classmethod
    def _number_options(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        numbered = []
        for position, option in enumerate(value):
            if isinstance(option, str | int | float) and not isinstance(option, bool):
                numbered.append({"id": _option_id(position), "text": str(option)})
            else:
                numbered.append(option)
        return numbered


class SingleQuestion(_ChoiceQuestion):
    type: Literal["single"] = Field(description="One correct option.")
    answer: str = Field(description="The id of the correct option.")


class MultipleQuestion(_ChoiceQuestion):
    type: Literal["multiple"] = Field(description="Several correct options; all must be chosen.")
    answer: list[str] = Field(min_length=1, description="The ids of every correct option.")


class TrueFalseQuestion(_Question):
    type: Literal["true_false"] = Field(description="A statement that is true or false.")
    answer: bool = Field(description="true or false.")


class TextQuestion(_Question):
    type: Literal["text"] = Field(description="A short typed answer.")
    answer: list[Text] = Field(
        min_length=1,
        description="Accepted answers, compared ignoring case, accents and outer spaces.",
    )

    @field_validator("answer", mode="before", json_schema_input_type=list[str] | str | int | float)
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        values = [value] if not isinstance(value, list) else value
        # `answer: 1998` is a year the learner types, not a number to compute with.
        return [
            str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in values
        ]


class NumberQuestion(_Question):
    type: Literal["number"] = Field(description="A numeric answer.")
    answer: float = Field(description="The correct number.")
    tolerance: float = Field(default=0, ge=0, description="Accepted distance from the answer.")


QUESTION_TYPES = ("single", "multiple", "true_false", "text", "number")


def _question_type(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type")
        return kind if kind in QUESTION_TYPES else None
    return getattr(value, "type", None)


Question = Annotated[
    Annotated[SingleQuestion, Tag("single")]
    | Annotated[MultipleQuestion, Tag("multiple")]
    | Annotated[TrueFalseQuestion, Tag("true_false")]
    | Annotated[TextQuestion, Tag("text")]
    | Annotated[NumberQuestion, Tag("number")],
    Discriminator(
        _question_type,
        custom_error_type="question_type",
        custom_error_message="must be one of single, multiple, true_false, text, number",
    ),
]


class Lesson(_Strict):
    """A reading: Markdown inline (`body`) or in a file (`body_file`)."""

    id: Id = Field(description="Unique across the whole course; keys learners' progress.")
    type: Literal["lesson"] = Field(default="lesson", description="Omit, or `lesson`.")
    title: Text
    minutes: int | None = Field(default=None, ge=1, le=6000, description="Estimated minutes.")
    body: str | None = Field(default=None, description="Markdown (CommonMark and tables).")
    body_file: str | None = Field(
        default=None, description="A Markdown file, relative to the course folder."
    )

    @model_validator(mode="after")
    def _one_body(self) -> Lesson:
        if (self.body is None) == (self.body_file is None):
            raise ValueError("a lesson needs exactly one of `body` or `body_file`")
        return self


class Quiz(_Strict):
    """A graded set of questions."""

    id: Id = Field(description="Unique across the whole course; keys attempts.")
    type: Literal["quiz"] = Field(description="`quiz`.")
    title: Text
    pass_mark: Percent | None = Field(
        default=None, description="Percent needed to pass; defaults to the course's pass_mark."
    )
    max_attempts: int | None = Field(
        default=None, ge=1, description="Attempts allowed; unlimited when omitted."
    )
    minutes: int | None = Field(default=None, ge=1, le=6000)
    questions: list[Question] = Field(min_length=1)


def _item_type(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type", "lesson")
        return kind if kind in ("lesson", "quiz") else None
    return getattr(value, "type", None)


Item = Annotated[
    Annotated[Lesson, Tag("lesson")] | Annotated[Quiz, Tag("quiz")],
    Discriminator(
        _item_type,
        custom_error_type="item_type",
        custom_error_message="must be `lesson` (or omitted) or `quiz`",
    ),
]


class Module(_Strict):
    id: Id = Field(description="Unique within the course.")
    title: Text
    items: list[Item] = Field(min_length=1, description="Lessons and quizzes, in order.")


class Course(_Strict):
    """A course: `courses/<folder>/course.yaml`."""

    id: Id = Field(description="Unique across courses; never change it once learners enrol.")
    title: Text
    language: LanguageTag
    summary: Text
    hours: float = Field(gt=0, le=10000, description="Estimated study time, on the certificate.")
    topics: list[Text] = Field(default_factory=list, description="Used for catalogue filters.")
    published: bool = Field(default=True, description="false: visible to authors only.")
    pass_mark: Percent = Field(default=70, description="Default percent a quiz needs.")
    certificate: bool = Field(default=True, description="Issue a certificate on completion.")
    modules: list[Module] = Field(min_length=1)


class Programme(_Strict):
    """A programme (e.g. a diploma): `courses/programmes/<id>.yaml`."""

    id: Id
    title: Text
    hours: float = Field(gt=0, le=100000)
    courses: list[Id] = Field(min_length=1, description="Ids of the courses to complete.")
    summary: str | None = None
    language: LanguageTag | None = None


def course_json_schema() -> dict[str, Any]:
    """The JSON Schema of course.yaml, for editors and CI."""
    schema = Course.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://ecampus.example/schema/course.json"
    schema["title"] = "ecampus course (v1)"
    return schema
