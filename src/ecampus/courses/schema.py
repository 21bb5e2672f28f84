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
    StrictBool,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from ecampus.i18n import N_, Message

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


class FormatError(ValueError):
    """A rule of the format broken, as a message the validator shows in the reader's language."""

    def __init__(self, text: Message) -> None:
        super().__init__(str(text))
        self.text = text


class _Strict(BaseModel):
    # defer_build: the validators are built when a file is first validated, so a start that
    # reads the courses from the cache (courses.cache) never builds them (60-80 ms of CPU).
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=False, defer_build=True
    )


class Option(_Strict):
    """An answer option; ids default to a, b, c ... by position."""

    id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=40,
            title="Option id",
            description="What `answer` refers to; unique within the question.",
        ),
    ]
    text: Text = Field(title="Text", description="What the learner reads.")
    feedback: str | None = Field(
        default=None,
        title="Feedback",
        description="Shown after submitting, to a learner who chose this option.",
    )


def _option_id(position: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[position] if position < len(letters) else f"o{position + 1}"


class _Question(_Strict):
    id: Id = Field(title="Question id", description="Unique within its quiz; keys the answers.")
    prompt: Text = Field(title="Prompt", description="The question, in Markdown.")
    explanation: str | None = Field(
        default=None,
        title="Explanation",
        description="Shown with the result, only after the learner submits.",
    )
    points: float = Field(
        default=1, gt=0, title="Points", description="Weight of the question in the score."
    )


class _ChoiceQuestion(_Question):
    options: list[Option] = Field(
        min_length=2,
        title="Options",
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
    type: Literal["single"] = Field(title="Type", description="One correct option.")
    answer: str = Field(title="Answer", description="The id of the correct option, e.g. b.")


class MultipleQuestion(_ChoiceQuestion):
    type: Literal["multiple"] = Field(
        title="Type", description="Several correct options; all of them, and only them, score."
    )
    answer: list[str] = Field(
        min_length=1, title="Answer", description="The ids of every correct option, e.g. [a, c]."
    )


class TrueFalseQuestion(_Question):
    type: Literal["true_false"] = Field(
        title="Type", description="A statement that is true or false."
    )
    answer: StrictBool = Field(title="Answer", description="true or false.")


class TextQuestion(_Question):
    type: Literal["text"] = Field(title="Type", description="A short typed answer.")
    answer: list[Text] = Field(
        min_length=1,
        title="Accepted answers",
        description="One or a list; compared ignoring case, accents and outer spaces.",
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
    type: Literal["number"] = Field(title="Type", description="A numeric answer.")
    answer: float = Field(title="Answer", description="The correct number.")
    tolerance: float = Field(
        default=0, ge=0, title="Tolerance", description="Accepted distance from the answer."
    )


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

    id: Id = Field(
        title="Item id", description="Unique across the whole course; keys learners' progress."
    )
    type: Literal["lesson"] = Field(default="lesson", title="Type", description="Omit, or lesson.")
    title: Text = Field(title="Title", description="Shown in the menu and as the heading.")
    minutes: int | None = Field(
        default=None, ge=1, le=6000, title="Minutes", description="Estimated reading time."
    )
    body: str | None = Field(
        default=None,
        title="Body",
        description="Markdown (CommonMark and tables); raw HTML is removed. Or use body_file.",
    )
    body_file: str | None = Field(
        default=None,
        title="Body file",
        description="A Markdown file, relative to the course folder. Or use body.",
    )

    @model_validator(mode="after")
    def _one_body(self) -> Lesson:
        if (self.body is None) == (self.body_file is None):
            raise FormatError(Message(N_("a lesson needs exactly one of `body` or `body_file`")))
        return self


class Quiz(_Strict):
    """A graded set of questions."""

    id: Id = Field(title="Item id", description="Unique across the whole course; keys attempts.")
    type: Literal["quiz"] = Field(title="Type", description="quiz")
    title: Text = Field(title="Title", description="Shown in the menu and as the heading.")
    pass_mark: Percent | None = Field(
        default=None,
        title="Pass mark",
        description="Percent needed to pass; defaults to the course's pass_mark.",
    )
    max_attempts: int | None = Field(
        default=None, ge=1, title="Attempts", description="Attempts allowed; unlimited if omitted."
    )
    minutes: int | None = Field(
        default=None, ge=1, le=6000, title="Minutes", description="Estimated time to answer."
    )
    questions: list[Question] = Field(
        min_length=1, title="Questions", description="Graded on the server, in this order."
    )


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
    """A group of lessons and quizzes."""

    id: Id = Field(title="Module id", description="Unique within the course.")
    title: Text = Field(title="Title", description="Shown in the course outline.")
    items: list[Item] = Field(
        min_length=1, title="Items", description="Lessons and quizzes, in order."
    )


LocalText = Annotated[
    dict[LanguageTag, Text] | Text,
    Field(description="Text per language (es: ..., en: ...), or one text for every language."),
]
Orientation = Literal["landscape", "portrait"]


class Signatory(_Strict):
    """A person who signs the certificates."""

    name: Text = Field(title="Name", description="As printed under the signature line.")
    title: LocalText = Field(
        title="Title",
        description="Their position, e.g. Jefa de Misión; one text or one per language.",
    )
    signature: str | None = Field(
        default=None,
        title="Signature",
        description="An image of the signature (PNG, JPEG or SVG), relative to this file.",
    )


class IssuerOverride(_Strict):
    """Who issues the certificates, as a course or programme overrides it: any key given
    replaces the one in courses/issuer.yaml."""

    name: dict[LanguageTag, Text] | None = Field(
        default=None,
        min_length=1,
        title="Name",
        description="The institution's name per language (es: ..., en: ...); a certificate "
        "shows the reader's language first, then the course's.",
    )
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = Field(
        default=None, title="Web address", description="The institution's site (https://...)."
    )
    logo: str | None = Field(
        default=None,
        title="Logo",
        description="An image file (PNG, JPEG or SVG), relative to this file.",
    )
    signatories: list[Signatory] | None = Field(
        default=None,
        max_length=4,
        title="Signatories",
        description="Who signs, in order (at most 4).",
    )
    orientation: Orientation | None = Field(
        default=None,
        title="Orientation",
        description="Of the A4 page: landscape (the default) or portrait.",
    )


class Issuer(IssuerOverride):
    """Who issues the certificates: `courses/issuer.yaml`."""

    name: dict[LanguageTag, Text] = Field(
        min_length=1,
        title="Name",
        description="The institution's name per language (es: ..., en: ...); a certificate "
        "shows the reader's language first, then the course's.",
    )


class Course(_Strict):
    """A course: `courses/<folder>/course.yaml`."""

    id: Id = Field(
        title="Course id", description="Unique across courses; never change it once learners enrol."
    )
    title: Text = Field(title="Title", description="As printed on the certificate.")
    language: LanguageTag = Field(title="Language", description="BCP 47 tag: es, en, fr, pt ...")
    summary: Text = Field(title="Summary", description="One paragraph for the catalogue.")
    hours: float = Field(
        gt=0,
        le=10000,
        title="Hours",
        description="Estimated study time, printed on the certificate.",
    )
    topics: list[Text] = Field(
        default_factory=list, title="Topics", description="Used for catalogue filters."
    )
    published: StrictBool = Field(
        default=True,
        title="Published",
        description="false: visible to authors and coordinators only.",
    )
    pass_mark: Percent = Field(
        default=70, title="Pass mark", description="Percent a quiz needs unless it sets its own."
    )
    certificate: StrictBool = Field(
        default=True, title="Certificate", description="Issue a certificate on completion."
    )
    translations: list[Id] = Field(
        default_factory=list,
        title="Translations",
        description="Ids of the same course in other languages; learners see theirs first.",
    )
    modules: list[Module] = Field(
        min_length=1, title="Modules", description="The course's modules, in order."
    )
    issuer: IssuerOverride | None = Field(
        default=None,
        title="Issuer",
        description="Overrides courses/issuer.yaml for this course's certificate: any key given "
        "replaces the institution's.",
    )


class Programme(_Strict):
    """A programme (e.g. a diploma): `courses/programmes/<id>.yaml`."""

    id: Id = Field(title="Programme id", description="Unique across programmes.")
    title: Text = Field(title="Title", description="As printed on the diploma.")
    hours: float = Field(gt=0, le=100000, title="Hours", description="Printed on the diploma.")
    courses: list[Id] = Field(
        min_length=1, title="Courses", description="Ids of the courses to complete."
    )
    summary: str | None = Field(default=None, title="Summary", description="For the catalogue.")
    language: LanguageTag | None = Field(
        default=None, title="Language", description="Language of the diploma; defaults to es."
    )
    issuer: IssuerOverride | None = Field(
        default=None,
        title="Issuer",
        description="Overrides courses/issuer.yaml for this programme's diploma: any key given "
        "replaces the institution's.",
    )


def _json_schema(model: type[BaseModel], name: str, title: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"/schema/{name}.json"
    schema["title"] = title
    return schema


def course_json_schema() -> dict[str, Any]:
    """The JSON Schema of course.yaml, for editors and CI."""
    return _json_schema(Course, "course", "ecampus course (v1)")


def programme_json_schema() -> dict[str, Any]:
    """The JSON Schema of courses/programmes/*.yaml."""
    return _json_schema(Programme, "programme", "ecampus programme (v1)")


def issuer_json_schema() -> dict[str, Any]:
    """The JSON Schema of courses/issuer.yaml."""
    return _json_schema(Issuer, "issuer", "ecampus issuer (v1.1)")
