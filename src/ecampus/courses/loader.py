"""Course folders on disk -> validated, rendered course content, or problems with positions."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ecampus.courses import markdown, schema, yamlnodes
from ecampus.courses.content import (
    CourseContent,
    LessonContent,
    ModuleContent,
    ProgrammeContent,
    QuizContent,
)
from ecampus.courses.textmatch import normalise_text

COURSE_FILE = "course.yaml"
PROGRAMMES_DIR = "programmes"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of the validator, printed as `file:line:col: message`."""

    file: Path
    line: int
    column: int
    message: str
    severity: str = "error"
    about: str = ""  # for cross-file problems: the course id the problem names

    def format(self, relative_to: Path | None = None) -> str:
        shown = self.file
        if relative_to is not None:
            try:
                shown = self.file.resolve().relative_to(relative_to.resolve())
            except ValueError:
                shown = self.file
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{shown}:{self.line}:{self.column}: {prefix}{self.message}"


@dataclass
class LoadResult:
    courses: dict[str, CourseContent] = field(default_factory=dict)
    programmes: dict[str, ProgrammeContent] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    checked: int = 0
    failed_sources: set[Path] = field(default_factory=set)  # course folders, programme files

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


_TAG_SEGMENTS = {"lesson", "quiz", *schema.QUESTION_TYPES}


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[str | int, ...]:
    """Drop pydantic's union tags and validator names from an error location."""
    path: list[str | int] = []
    current = data
    for segment in loc:
        in_mapping = isinstance(current, dict) and segment in current
        in_list = isinstance(current, list) and isinstance(segment, int) and segment < len(current)
        if in_mapping or in_list:
            path.append(segment)
            current = current[segment]
        elif isinstance(segment, str) and (segment in _TAG_SEGMENTS or "[" in segment):
            continue
        else:
            path.append(segment)
            current = None
    return tuple(path)


def _describe(error: Any, path: tuple[str | int, ...], model_fields: set[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1])
        hint = difflib.get_close_matches(key, sorted(model_fields), n=1, cutoff=0.6)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"unknown key '{key}'{suggestion}"
    if kind == "missing":
        return f"missing required key '{path[-1]}'"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch" and "-" in str(error.get("ctx", {}).get("pattern", "")):
        message = "ids use lowercase letters, digits and single hyphens ([a-z0-9-]+)"
    if not path or isinstance(path[-1], int):
        return message  # about a whole mapping (e.g. a lesson), not one key
    return f"{path[-1]}: {message}"


def _fields_at(path: tuple[str | int, ...], data: Any) -> set[str]:
    """The keys allowed at the mapping that holds `path` (for 'did you mean' hints)."""
    parent = data
    for segment in path[:-1]:
        try:
            parent = parent[segment]
        except (KeyError, IndexError, TypeError):
            return set()
    if not isinstance(parent, dict):
        return set()
    depth = [p for p in path[:-1] if isinstance(p, str)]
    models: list[type[Any]]
    if not depth:
        models = [schema.Course, schema.Programme]
    elif depth[-1] == "modules":
        models = [schema.Module]
    elif depth[-1] == "items":
        models = [schema.Lesson, schema.Quiz]
    elif depth[-1] == "questions":
        models = [
            schema.SingleQuestion,
            schema.MultipleQuestion,
            schema.TextQuestion,
            schema.NumberQuestion,
        ]
    elif depth[-1] == "options":
        models = [schema.Option]
    else:
        models = []
    return {name for model in models for name in model.model_fields}


def _validation_problems(
    exc: ValidationError, located: yamlnodes.Located, file: Path
) -> Iterator[Problem]:
    for error in exc.errors():
        path = _data_path(error["loc"], located.data)
        kind = error["type"]
        if kind in ("question_type", "item_type"):
            path = (*path, "type")
        if kind == "missing":
            line, col = located.position(path[:-1])
        else:
            line, col = located.position(path, key=kind == "extra_forbidden")
        yield Problem(file, line, col, _describe(error, path, _fields_at(path, located.data)))


def _read_yaml(file: Path, problems: list[Problem]) -> yamlnodes.Located | None:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(file, 1, 1, f"not UTF-8 text ({exc.reason})"))
        return None
    except OSError as exc:
        problems.append(Problem(file, 1, 1, f"cannot read: {exc.strerror}"))
        return None
    try:
        located = yamlnodes.load(text)
    except yamlnodes.YamlSyntaxError as exc:
        problems.append(Problem(file, *exc.position, exc.message))
        return None
    for (line, col), key in located.duplicates:
        problems.append(Problem(file, line, col, f"duplicate key '{key}'"))
    if not isinstance(located.data, dict):
        problems.append(Problem(file, 1, 1, "expected a mapping of keys (id, title, ...)"))
        return None
    return located


def _answerable(question: dict[str, Any]) -> bool:
    """Whether some answer a learner can give is graded correct."""
    answer = question.get("answer")
    if question.get("type") == "text":
        accepted = answer if isinstance(answer, list) else [answer]
        return any(normalise_text(str(a)) for a in accepted if a is not None)
    if question.get("type") == "multiple":
        return isinstance(answer, list) and bool(answer)
    return answer is not None


def _dicts(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for index, entry in enumerate(value):
            if isinstance(entry, dict):
                yield index, entry


class _Checker:
    """Rules that span several fields: unique ids, answers that exist, files that exist.

    It reads the raw YAML data, so that it reports alongside schema errors rather than
    only once the schema is satisfied.
    """

    def __init__(self, file: Path, located: yamlnodes.Located) -> None:
        self.file = file
        self.located = located
        self.problems: list[Problem] = []
        self.bodies: dict[str, str] = {}
        self.item_ids: set[str] = set()

    def error(self, path: tuple[str | int, ...], message: str, *, severity: str = "error") -> None:
        line, col = self.located.position(path)
        self.problems.append(Problem(self.file, line, col, message, severity))

    def unique(self, ids: Iterable[tuple[Any, tuple[str | int, ...]]], what: str) -> None:
        seen: dict[str, tuple[str | int, ...]] = {}
        for value, path in ids:
            if not isinstance(value, str):
                continue
            if value in seen:
                first = self.located.position(seen[value])[0]
                self.error(path, f"duplicate {what} '{value}' (first used on line {first})")
            else:
                seen[value] = path

    def course(self, data: dict[str, Any], folder: Path) -> None:
        modules = list(_dicts(data.get("modules")))
        self.unique(((m.get("id"), ("modules", i, "id")) for i, m in modules), "module id")
        items = [
            (("modules", i, "items", j), item)
            for i, module in modules
            for j, item in _dicts(module.get("items"))
        ]
        self.unique(((item.get("id"), (*here, "id")) for here, item in items), "item id")
        self.item_ids = {
            str(item["id"]) for _here, item in items if isinstance(item.get("id"), str)
        }
        for here, item in items:
            kind = item.get("type", "lesson")
            if kind == "lesson":
                self.lesson(item, here, folder)
            elif kind == "quiz":
                self.quiz(item, here, data.get("pass_mark", 70), folder)

    def links(self, text: str, path: tuple[str | int, ...], folder: Path, where: str) -> None:
        """Media the text refers to must exist; links to item ids must name an item."""
        for target in markdown.link_targets(text):
            if markdown.is_item_link(target) and target not in self.item_ids:
                hint = difflib.get_close_matches(target, sorted(self.item_ids), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.error(
                    path,
                    f"{where} links to '{target}', which is no item of this course{suggestion}",
                    severity="warning",
                )
        for reference in markdown.media_references(text):
            file = (folder / reference.split("#", 1)[0].split("?", 1)[0]).resolve()
            if not file.is_relative_to(folder.resolve()):
                self.error(path, f"{where} refers to '{reference}', outside the course folder")
            elif not file.is_file():
                self.error(
                    path,
                    f"{where} refers to '{reference}', which does not exist",
                    severity="warning",
                )

    def lesson(self, item: dict[str, Any], here: tuple[str | int, ...], folder: Path) -> None:
        if isinstance(item.get("body"), str):
            self.links(item["body"], (*here, "body"), folder, f"lesson '{item.get('id')}'")
        if "minutes" not in item:
            self.error(
                (*here, "id"), f"lesson '{item.get('id')}' has no `minutes`", severity="warning"
            )
        name = item.get("body_file")
        if not isinstance(name, str):
            return
        path = (*here, "body_file")
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            self.error(path, f"body_file '{name}' is outside the course folder")
        elif not target.is_file():
            self.error(path, f"body_file '{name}' does not exist")
        else:
            try:
                text = target.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                self.error(path, f"body_file '{name}' is not readable UTF-8 text")
                return
            self.bodies[str(item.get("id"))] = text
            # Paths in a body file are relative to the course folder, as in course.yaml.
            self.links(text, path, folder, f"body_file '{name}'")

    def quiz(
        self, item: dict[str, Any], here: tuple[str | int, ...], default_mark: Any, folder: Path
    ) -> None:
        questions = list(_dicts(item.get("questions")))
        self.unique(
            ((q.get("id"), (*here, "questions", k, "id")) for k, q in questions), "question id"
        )
        for k, question in questions:
            if isinstance(question.get("prompt"), str):
                self.links(
                    question["prompt"],
                    (*here, "questions", k, "prompt"),
                    folder,
                    f"question '{question.get('id')}'",
                )
            if question.get("type") in ("single", "multiple"):
                self.choices(question, (*here, "questions", k))
        self.pass_mark(item, here, item.get("pass_mark", default_mark), questions)

    def pass_mark(
        self,
        item: dict[str, Any],
        here: tuple[str | int, ...],
        mark: Any,
        questions: list[tuple[int, dict[str, Any]]],
    ) -> None:
        if not isinstance(mark, int | float) or isinstance(mark, bool) or not questions:
            return
        at = (*here, "pass_mark") if "pass_mark" in item else (*here, "id")
        if mark == 0:
            self.error(
                at, "a pass mark of 0 passes any submission, even an empty one", severity="warning"
            )
            return
        total = reachable = 0.0
        for _k, question in questions:
            points = question.get("points", 1)
            points = points if isinstance(points, int | float) and points > 0 else 1
            total += points
            if _answerable(question):
                reachable += points
        best = 100 * reachable / total
        if best < mark:
            self.error(
                at,
                f"quiz '{item.get('id')}' cannot be passed: its pass mark is {mark:g} % but a "
                f"learner can score at most {best:.0f} % (some questions have no answer a "
                "learner could give)",
                severity="warning",
            )

    def choices(self, question: dict[str, Any], at: tuple[str | int, ...]) -> None:
        options = question.get("options")
        if not isinstance(options, list):
            return
        option_ids = [
            str(o.get("id")) if isinstance(o, dict) else schema._option_id(n)
            for n, o in enumerate(options)
        ]
        self.unique(((o, (*at, "options", n)) for n, o in enumerate(option_ids)), "option id")
        answer = question.get("answer")
        if isinstance(answer, list):
            answers = [(str(a), (*at, "answer", n)) for n, a in enumerate(answer)]
            if len({a for a, _ in answers}) != len(answers):
                self.error((*at, "answer"), "the same option is listed twice in answer")
        elif answer is not None:
            answers = [(str(answer), (*at, "answer"))]
        else:
            return
        for value, path in answers:
            if value not in option_ids:
                self.error(
                    path,
                    f"answer '{value}' names no option (options are {', '.join(option_ids)})",
                )


def _content_version(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:16]


def load_course(folder: Path, *, render: bool = True) -> tuple[CourseContent | None, list[Problem]]:
    """Load one course folder; content is None when there is any error (and has no HTML
    without render, for the validator)."""
    file = folder / COURSE_FILE
    problems: list[Problem] = []
    if not file.is_file():
        return None, [Problem(file, 1, 1, f"no {COURSE_FILE} in this course folder")]
    located = _read_yaml(file, problems)
    if located is None:
        return None, problems
    checker = _Checker(file, located)
    checker.course(located.data, folder)
    problems.extend(checker.problems)
    try:
        course = schema.Course.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, located, file))
        return None, _sorted(problems)
    problems = _sorted(problems)
    if any(p.severity == "error" for p in problems):
        return None, problems
    bodies = checker.bodies
    version = _content_version(file.read_bytes(), *(bodies[k].encode() for k in sorted(bodies)))
    return _compile(course, bodies, folder, version, render=render), problems


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (str(p.file), p.line, p.column))


def _compile(
    course: schema.Course, bodies: dict[str, str], folder: Path, version: str, *, render: bool
) -> CourseContent:
    """Build the in-memory course; without render, no HTML (the validator needs none)."""
    media_base = f"/courses/{course.id}/media/"
    item_base = f"/courses/{course.id}/items/"
    item_ids = frozenset(item.id for module in course.modules for item in module.items)
    modules = []
    for module in course.modules:
        items: list[LessonContent | QuizContent] = []
        for item in module.items:
            if isinstance(item, schema.Lesson):
                text = bodies[item.id] if item.body_file is not None else item.body or ""
                items.append(
                    LessonContent(
                        id=item.id,
                        title=item.title,
                        module_id=module.id,
                        minutes=item.minutes,
                        html=markdown.size_images(
                            markdown.to_html(
                                text, media_base=media_base, item_base=item_base, item_ids=item_ids
                            ),
                            media_base=media_base,
                            folder=folder,
                        )
                        if render
                        else "",
                    )
                )
            else:
                items.append(
                    QuizContent(
                        id=item.id,
                        title=item.title,
                        module_id=module.id,
                        minutes=item.minutes,
                        pass_mark=item.pass_mark
                        if item.pass_mark is not None
                        else course.pass_mark,
                        max_attempts=item.max_attempts,
                        questions=tuple(item.questions),
                        prompts_html={
                            q.id: markdown.to_inline_html(
                                q.prompt,
                                media_base=media_base,
                                item_base=item_base,
                                item_ids=item_ids,
                            )
                            if render
                            else ""
                            for q in item.questions
                        },
                    )
                )
        modules.append(ModuleContent(id=module.id, title=module.title, items=tuple(items)))
    return CourseContent(
        id=course.id,
        title=course.title,
        language=course.language,
        summary=course.summary,
        hours=course.hours,
        topics=tuple(course.topics),
        published=course.published,
        certificate=course.certificate,
        pass_mark=course.pass_mark,
        modules=tuple(modules),
        version=version,
        folder=folder,
        translations=tuple(course.translations),
    )


def load_programme(file: Path) -> tuple[ProgrammeContent | None, list[Problem]]:
    problems: list[Problem] = []
    located = _read_yaml(file, problems)
    if located is None:
        return None, problems
    try:
        programme = schema.Programme.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, located, file))
        return None, problems
    if problems:
        return None, problems
    return (
        ProgrammeContent(
            id=programme.id,
            title=programme.title,
            hours=programme.hours,
            courses=tuple(programme.courses),
            summary=programme.summary or "",
            language=programme.language,
            source=file,
        ),
        problems,
    )


def course_folders(path: Path) -> list[Path]:
    """A course folder, a course.yaml, or a folder of course folders -> course folders."""
    if path.is_file():
        return [path.parent]
    if (path / COURSE_FILE).is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(child for child in path.iterdir() if (child / COURSE_FILE).is_file())


def load_catalogue(paths: Iterable[Path], *, render: bool = True) -> LoadResult:
    """Load every course under the given paths, plus programmes in `<root>/programmes/`."""
    result = LoadResult()
    seen: dict[str, Path] = {}
    programme_files: list[Path] = []
    for root in paths:
        folders = course_folders(root)
        if not folders and not (root / PROGRAMMES_DIR).is_dir():
            result.problems.append(Problem(root, 1, 1, "no course.yaml found here"))
        for folder in folders:
            result.checked += 1
            content, problems = load_course(folder, render=render)
            result.problems.extend(problems)
            course_id = content.id if content else _peek_id(folder)
            if course_id and course_id in seen and seen[course_id] != folder:
                result.problems.append(
                    Problem(
                        folder / COURSE_FILE,
                        1,
                        1,
                        f"course id '{course_id}' is already used by {seen[course_id]}",
                    )
                )
                continue
            if course_id:
                seen[course_id] = folder
            if content is not None:
                result.courses[content.id] = content
            else:
                result.failed_sources.add(folder.resolve())
        if root.is_dir() and (root / PROGRAMMES_DIR).is_dir():
            programme_files.extend(sorted((root / PROGRAMMES_DIR).glob("*.yaml")))
    for file in programme_files:
        programme, problems = load_programme(file)
        result.problems.extend(problems)
        if programme is None:
            result.failed_sources.add(file.resolve())
            continue
        for index, course_id in enumerate(programme.courses):
            if course_id not in seen:
                line, col = _programme_course_position(file, index)
                result.problems.append(
                    Problem(
                        file,
                        line,
                        col,
                        f"programme names unknown course '{course_id}'",
                        about=course_id,
                    )
                )
        result.programmes[programme.id] = programme
    _check_translations(result, seen)
    return result


def _check_translations(result: LoadResult, seen: dict[str, Path]) -> None:
    """Translations must name existing courses, in another language."""
    for course in result.courses.values():
        file = course.folder / COURSE_FILE
        for index, other in enumerate(course.translations):
            line, col = _position_in(file, ("translations", index))
            target = result.courses.get(other)
            if other not in seen:
                result.problems.append(
                    Problem(
                        file, line, col, f"translation names unknown course '{other}'", about=other
                    )
                )
            elif target is not None and target.language == course.language:
                result.problems.append(
                    Problem(
                        file,
                        line,
                        col,
                        f"translation '{other}' is in the same language ({course.language})",
                        severity="warning",
                    )
                )


def _position_in(file: Path, path: tuple[str | int, ...]) -> tuple[int, int]:
    try:
        return yamlnodes.load(file.read_text(encoding="utf-8")).position(path)
    except (OSError, UnicodeDecodeError, yamlnodes.YamlSyntaxError):
        return (1, 1)


def _peek_id(folder: Path) -> str | None:
    try:
        located = yamlnodes.load((folder / COURSE_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yamlnodes.YamlSyntaxError):
        return None
    value = located.data.get("id") if isinstance(located.data, dict) else None
    return value if isinstance(value, str) else None


def _programme_course_position(file: Path, index: int) -> tuple[int, int]:
    return _position_in(file, ("courses", index))
