"""Loaded course content: immutable, rendered once per content version, kept in memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from ecampus.courses import schema
from ecampus.courses.issuer import IssuerContent

AnyQuestion = (
    schema.SingleQuestion
    | schema.MultipleQuestion
    | schema.TrueFalseQuestion
    | schema.TextQuestion
    | schema.NumberQuestion
)


@dataclass(frozen=True)
class LessonContent:
    """A lesson; its HTML is rendered from `body` (Markdown) the first time it is asked for
    and kept, so that a server starts without rendering every lesson of the catalogue (the
    course was validated in full when it was loaded; rendering finds no new errors)."""

    id: str
    title: str
    module_id: str
    minutes: int | None
    body: str
    render: Callable[[str], str] = field(compare=False, repr=False)
    type: Literal["lesson"] = "lesson"

    @cached_property
    def html(self) -> str:
        # Two threads asking at once both render the same text; either result is kept.
        return self.render(self.body)


class RenderedOnUse(Mapping[str, str]):
    """Markdown texts by key, each rendered to HTML the first time it is read, then kept
    (a quiz's prompts: most quizzes of a large catalogue are not opened after a start)."""

    __slots__ = ("_html", "_render", "_texts")

    def __init__(self, texts: Mapping[str, str], render: Callable[[str], str]) -> None:
        self._texts = dict(texts)
        self._render = render
        self._html: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        html = self._html.get(key)
        if html is None:
            html = self._html[key] = self._render(self._texts[key])
        return html

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RenderedOnUse):
            return self._texts == other._texts
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class QuizContent:
    id: str
    title: str
    module_id: str
    minutes: int | None
    pass_mark: float
    max_attempts: int | None
    questions: tuple[AnyQuestion, ...]
    prompts_html: Mapping[str, str]
    type: Literal["quiz"] = "quiz"


ItemContent = LessonContent | QuizContent


@dataclass(frozen=True, slots=True)
class ModuleContent:
    id: str
    title: str
    items: tuple[ItemContent, ...]


@dataclass(frozen=True)
class CourseContent:
    id: str
    title: str
    language: str
    summary: str
    hours: float
    topics: tuple[str, ...]
    published: bool
    certificate: bool
    pass_mark: float
    modules: tuple[ModuleContent, ...]
    version: str
    folder: Path = field(compare=False)
    translations: tuple[str, ...] = ()
    # The course's own `issuer:` key, and the issuer it resolves to (issuer.yaml with it).
    issuer_override: schema.IssuerOverride | None = field(default=None, compare=False)
    issuer: IssuerContent | None = field(default=None, compare=False)

    @cached_property
    def items(self) -> dict[str, ItemContent]:
        return {item.id: item for module in self.modules for item in module.items}

    @cached_property
    def order(self) -> tuple[str, ...]:
        return tuple(self.items)

    @cached_property
    def positions(self) -> dict[str, int]:
        return {item_id: index for index, item_id in enumerate(self.order)}

    @cached_property
    def modules_by_id(self) -> dict[str, ModuleContent]:
        return {module.id: module for module in self.modules}

    @cached_property
    def quizzes(self) -> dict[str, QuizContent]:
        return {i: item for i, item in self.items.items() if isinstance(item, QuizContent)}

    @cached_property
    def minutes(self) -> int:
        return sum(item.minutes or 0 for item in self.items.values())

    def neighbours(self, item_id: str) -> tuple[ItemContent | None, ItemContent | None]:
        index = self.positions[item_id]
        previous = self.items[self.order[index - 1]] if index > 0 else None
        following = self.items[self.order[index + 1]] if index + 1 < len(self.order) else None
        return previous, following


@dataclass(frozen=True, slots=True)
class ProgrammeContent:
    id: str
    title: str
    hours: float
    courses: tuple[str, ...]
    summary: str = ""
    language: str | None = None
    source: Path | None = field(default=None, compare=False)
    issuer_override: schema.IssuerOverride | None = field(default=None, compare=False)
    issuer: IssuerContent | None = field(default=None, compare=False)
    # Each course counted, as the catalogue had it: (id, title, hours).
    parts: tuple[tuple[str, str, float], ...] = field(default=(), compare=False)
