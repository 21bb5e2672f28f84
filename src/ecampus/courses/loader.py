"""Course folders on disk -> validated, rendered course content, or problems with positions."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ecampus.courses import hours, issuer, markdown, schema, yamlhints
from ecampus.courses.content import (
    CourseContent,
    LessonContent,
    ModuleContent,
    ProgrammeContent,
    QuizContent,
    RenderedOnUse,
)
from ecampus.courses.problems import Problem
from ecampus.courses.textmatch import normalise_text
from ecampus.i18n import N_, Message, lazy_ngettext

if TYPE_CHECKING:
    from ecampus.courses import yamlnodes

COURSE_FILE = "course.yaml"
PROGRAMMES_DIR = "programmes"


@dataclass
class LoadResult:
    courses: dict[str, CourseContent] = field(default_factory=dict)
    programmes: dict[str, ProgrammeContent] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    checked: int = 0
    failed_sources: set[Path] = field(default_factory=set)  # course folders, programme files
    issuer: issuer.IssuerContent | None = None  # courses/issuer.yaml, when there is one
    issuer_failed: bool = False  # issuer.yaml exists but does not load

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


_TAG_SEGMENTS = {"lesson", "quiz", *schema.QUESTION_TYPES}


def _is_tag(segment: str, current: Any) -> bool:
    """Whether a location segment is the tag of the union member that `current` is (an item's
    or question's type), not a key: an option's missing `text` is a key."""
    if segment not in _TAG_SEGMENTS:
        return False
    return not isinstance(current, dict) or current.get("type", "lesson") == segment


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
        elif isinstance(segment, str) and (_is_tag(segment, current) or "[" in segment):
            continue
        else:
            path.append(segment)
            current = None
    return tuple(path)


# Pydantic's error types, as messages an author can act on; ctx values fill the parameters.
_PYDANTIC = {
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_type": N_("must be a number"),
    "float_parsing": N_("must be a number"),
    "finite_number": N_("must be a number"),
    "string_type": N_("must be text"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "list_type": N_("must be a list"),
    "dict_type": N_("must be a mapping of keys"),
    "model_type": N_("must be a mapping of keys"),
    "model_attributes_type": N_("must be a mapping of keys"),
    "greater_than": N_("must be greater than %(gt)s"),
    "greater_than_equal": N_("must be at least %(ge)s"),
    "less_than": N_("must be less than %(lt)s"),
    "less_than_equal": N_("must be at most %(le)s"),
    "string_too_short": N_("must not be empty"),
    "string_too_long": N_("must be at most %(max_length)s characters long"),
    "literal_error": N_("must be %(expected)s"),
    "question_type": N_("must be one of single, multiple, true_false, text, number"),
    "item_type": N_("must be `lesson` (or omitted) or `quiz`"),
}
_ID_PATTERN = N_("ids use lowercase letters, digits and single hyphens ([a-z0-9-]+)")
_URL_PATTERN = N_("must be a web address starting with https:// or http://")
_LANGUAGE_PATTERN = N_("use a BCP 47 language tag such as es, en or pt-BR")


def _pydantic_message(error: Any) -> Message:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "too_short":
        return lazy_ngettext(
            "must have at least %(num)s entry",
            "must have at least %(num)s entries",
            int(ctx.get("min_length", 1)),
        )
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if "https?" in pattern:
            return Message(_URL_PATTERN)
        return Message(_ID_PATTERN if "[a-z0-9]+" in pattern else _LANGUAGE_PATTERN)
    if kind == "value_error":
        cause = ctx.get("error")
        if isinstance(cause, schema.FormatError):
            return cause.text
    if kind in _PYDANTIC:
        params = {k: v for k, v in ctx.items() if isinstance(v, int | float | str)}
        try:
            _PYDANTIC[kind] % params
        except (KeyError, TypeError, ValueError):
            pass
        else:
            return Message(_PYDANTIC[kind], params)
    return Message(str(error["msg"]).removeprefix("Value error, "))


def _describe(error: Any, path: tuple[str | int, ...], model_fields: set[str]) -> Message:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1])
        hint = difflib.get_close_matches(key, sorted(model_fields), n=1, cutoff=0.6)
        if hint:
            return Message(
                N_("unknown key '%(key)s' (did you mean '%(hint)s'?)"),
                {"key": key, "hint": hint[0]},
            )
        return Message(N_("unknown key '%(key)s'"), {"key": key})
    if kind == "missing":
        return Message(N_("missing required key '%(key)s'"), {"key": str(path[-1])})
    message = _pydantic_message(error)
    if not path or isinstance(path[-1], int):
        return message  # about a whole mapping (e.g. a lesson), not one key
    return Message(N_("%(key)s: %(problem)s"), {"key": str(path[-1]), "problem": message})


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
        models = [schema.Course, schema.Programme, schema.Issuer]
    elif depth[-1] == "issuer":
        models = [schema.IssuerOverride]
    elif depth[-1] == "signatories":
        models = [schema.Signatory]
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
        message = _describe(error, path, _fields_at(path, located.data))
        hint = None
        if kind in ("string_type", "extra_forbidden") and path:
            hint = yamlhints.value_hint(
                located.text, line, str(path[-1]), kind == "extra_forbidden"
            )
        yield Problem(file, line, col, message, hint=hint)


def _read_yaml(file: Path, problems: list[Problem]) -> yamlnodes.Located | None:
    from ecampus.courses import yamlnodes  # PyYAML only when a file is parsed (courses.cache)

    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(file, 1, 1, Message(N_("not UTF-8 text (%(reason)s)"), {"reason": exc.reason}))
        )
        return None
    except OSError as exc:
        problems.append(
            Problem(file, 1, 1, Message(N_("cannot read: %(reason)s"), {"reason": exc.strerror}))
        )
        return None
    try:
        located = yamlnodes.load(text)
    except yamlnodes.YamlSyntaxError as exc:
        problems.append(Problem(file, *exc.position, exc.text, hint=exc.hint))
        return None
    for (line, col), key in located.duplicates:
        problems.append(
            Problem(file, line, col, Message(N_("duplicate key '%(key)s'"), {"key": key}))
        )
    if not isinstance(located.data, dict):
        problems.append(
            Problem(file, 1, 1, Message(N_("expected a mapping of keys (id, title, ...)")))
        )
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


_DUPLICATE_MODULE = N_("duplicate module id '%(id)s' (first used on line %(line)s)")
_DUPLICATE_ITEM = N_("duplicate item id '%(id)s' (first used on line %(line)s)")
_DUPLICATE_QUESTION = N_("duplicate question id '%(id)s' (first used on line %(line)s)")
_DUPLICATE_OPTION = N_("duplicate option id '%(id)s' (first used on line %(line)s)")


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

    def error(
        self, path: tuple[str | int, ...], message: Message, *, severity: str = "error"
    ) -> None:
        line, col = self.located.position(path)
        self.problems.append(Problem(self.file, line, col, message, severity))

    def unique(self, ids: Iterable[tuple[Any, tuple[str | int, ...]]], what: str) -> None:
        """`what` is a msgid with `%(id)s` and `%(line)s`, e.g. _DUPLICATE_ITEM."""
        seen: dict[str, tuple[str | int, ...]] = {}
        for value, path in ids:
            if not isinstance(value, str):
                continue
            if value in seen:
                first = self.located.position(seen[value])[0]
                self.error(path, Message(what, {"id": value, "line": str(first)}))
            else:
                seen[value] = path

    def course(self, data: dict[str, Any], folder: Path) -> None:
        modules = list(_dicts(data.get("modules")))
        self.unique(((m.get("id"), ("modules", i, "id")) for i, m in modules), _DUPLICATE_MODULE)
        items = [
            (("modules", i, "items", j), item)
            for i, module in modules
            for j, item in _dicts(module.get("items"))
        ]
        self.unique(((item.get("id"), (*here, "id")) for here, item in items), _DUPLICATE_ITEM)
        self.item_ids = {
            str(item["id"]) for _here, item in items if isinstance(item.get("id"), str)
        }
        self.issuer_images(data.get("issuer"), folder, ("issuer",))
        for here, item in items:
            kind = item.get("type", "lesson")
            if kind == "lesson":
                self.lesson(item, here, folder)
            elif kind == "quiz":
                self.quiz(item, here, data.get("pass_mark", 70), folder)

    def issuer_images(self, data: Any, folder: Path, at: tuple[str | int, ...] = ()) -> None:
        for path, message, severity in issuer.image_problems(data, folder):
            self.error((*at, *path), message, severity=severity)

    def links(self, text: str, path: tuple[str | int, ...], folder: Path, where: Message) -> None:
        """Media the text refers to must exist; links to item ids must name an item."""
        for target in markdown.link_targets(text):
            if markdown.is_item_link(target) and target not in self.item_ids:
                hint = difflib.get_close_matches(target, sorted(self.item_ids), n=1)
                params = {"where": where, "target": target}
                message = (
                    Message(
                        N_(
                            "%(where)s links to '%(target)s', which is no item of this course "
                            "(did you mean '%(hint)s'?)"
                        ),
                        {**params, "hint": hint[0]},
                    )
                    if hint
                    else Message(
                        N_("%(where)s links to '%(target)s', which is no item of this course"),
                        params,
                    )
                )
                self.error(path, message, severity="warning")
        for reference in markdown.media_references(text):
            file = (folder / reference.split("#", 1)[0].split("?", 1)[0]).resolve()
            params = {"where": where, "reference": reference}
            if not file.is_relative_to(folder.resolve()):
                self.error(
                    path,
                    Message(
                        N_("%(where)s refers to '%(reference)s', outside the course folder"), params
                    ),
                )
            elif not file.is_file():
                self.error(
                    path,
                    Message(
                        N_("%(where)s refers to '%(reference)s', which does not exist"), params
                    ),
                    severity="warning",
                )

    def lesson(self, item: dict[str, Any], here: tuple[str | int, ...], folder: Path) -> None:
        if isinstance(item.get("body"), str):
            self.links(item["body"], (*here, "body"), folder, _lesson(item))
        if "minutes" not in item:
            self.error(
                (*here, "id"),
                Message(N_("lesson '%(id)s' has no `minutes`"), {"id": str(item.get("id"))}),
                severity="warning",
            )
        name = item.get("body_file")
        if not isinstance(name, str):
            return
        path = (*here, "body_file")
        target = (folder / name).resolve()
        params = {"name": name}
        if not target.is_relative_to(folder.resolve()):
            self.error(
                path, Message(N_("body_file '%(name)s' is outside the course folder"), params)
            )
        elif not target.is_file():
            self.error(path, Message(N_("body_file '%(name)s' does not exist"), params))
        else:
            try:
                text = target.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                self.error(
                    path, Message(N_("body_file '%(name)s' is not readable UTF-8 text"), params)
                )
                return
            self.bodies[str(item.get("id"))] = text
            # Paths in a body file are relative to the course folder, as in course.yaml.
            self.links(text, path, folder, Message(N_("body_file '%(name)s'"), params))

    def quiz(
        self, item: dict[str, Any], here: tuple[str | int, ...], default_mark: Any, folder: Path
    ) -> None:
        questions = list(_dicts(item.get("questions")))
        self.unique(
            ((q.get("id"), (*here, "questions", k, "id")) for k, q in questions),
            _DUPLICATE_QUESTION,
        )
        for k, question in questions:
            if isinstance(question.get("prompt"), str):
                self.links(
                    question["prompt"],
                    (*here, "questions", k, "prompt"),
                    folder,
                    Message(N_("question '%(id)s'"), {"id": str(question.get("id"))}),
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
                at,
                Message(N_("a pass mark of 0 passes any submission, even an empty one")),
                severity="warning",
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
                Message(
                    N_(
                        "quiz '%(id)s' cannot be passed: its pass mark is %(mark)s %% but a "
                        "learner can score at most %(best)s %% (some questions have no answer a "
                        "learner could give)"
                    ),
                    {"id": str(item.get("id")), "mark": mark, "best": round(best)},
                ),
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
        self.unique(((o, (*at, "options", n)) for n, o in enumerate(option_ids)), _DUPLICATE_OPTION)
        answer = question.get("answer")
        if isinstance(answer, list):
            answers = [(str(a), (*at, "answer", n)) for n, a in enumerate(answer)]
            if len({a for a, _ in answers}) != len(answers):
                self.error(
                    (*at, "answer"), Message(N_("the same option is listed twice in answer"))
                )
        elif answer is not None:
            answers = [(str(answer), (*at, "answer"))]
        else:
            return
        for value, path in answers:
            if value not in option_ids:
                self.error(
                    path,
                    Message(
                        N_("answer '%(answer)s' names no option (options are %(options)s)"),
                        {"answer": value, "options": ", ".join(option_ids)},
                    ),
                )


def _lesson(item: dict[str, Any]) -> Message:
    return Message(N_("lesson '%(id)s'"), {"id": str(item.get("id"))})


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
        return None, [Problem(file, 1, 1, Message(N_("no course.yaml in this course folder")))]
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
    problems.extend(_hour_warnings(course, checker.bodies, located, file))
    problems = _sorted(problems)
    if any(p.severity == "error" for p in problems):
        return None, problems
    bodies = checker.bodies
    version = _content_version(file.read_bytes(), *(bodies[k].encode() for k in sorted(bodies)))
    return _compile(course, bodies, folder, version, render=render), problems


def _hour_warnings(
    course: schema.Course, bodies: dict[str, str], located: yamlnodes.Located, file: Path
) -> Iterator[Problem]:
    """Stated hours against item minutes, and each lesson's minutes against its length."""
    minutes = 0
    for i, module in enumerate(course.modules):
        for j, item in enumerate(module.items):
            minutes += item.minutes or 0
            if not isinstance(item, schema.Lesson) or item.minutes is None:
                continue
            text = bodies.get(item.id) if item.body_file is not None else item.body
            if text is None:
                continue  # a body_file that is missing is an error already
            warning = hours.lesson_minutes(item.id, item.minutes, hours.count_words(text))
            if warning is not None:
                at = located.position(("modules", i, "items", j, "minutes"))
                yield Problem(file, *at, warning, severity="warning")
    warning = hours.course_hours(course.hours, minutes)
    if warning is not None:
        yield Problem(file, *located.position(("hours",)), warning, severity="warning")


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (str(p.file), p.line, p.column))


@dataclass(frozen=True, slots=True)
class _Renderer:
    """One course's Markdown to HTML, for its lessons and prompts when first shown (an
    object, not a closure, so that loaded courses can be pickled: see courses.cache)."""

    media_base: str
    item_base: str
    item_ids: frozenset[str]
    folder: Path

    def lesson(self, text: str) -> str:
        html = markdown.to_html(
            text, media_base=self.media_base, item_base=self.item_base, item_ids=self.item_ids
        )
        return markdown.size_images(html, media_base=self.media_base, folder=self.folder)

    def prompt(self, text: str) -> str:
        return markdown.to_inline_html(
            text, media_base=self.media_base, item_base=self.item_base, item_ids=self.item_ids
        )


def _compile(
    course: schema.Course, bodies: dict[str, str], folder: Path, version: str, *, render: bool
) -> CourseContent:
    """Build the in-memory course; without render, no HTML (the validator needs none)."""
    renderer = _Renderer(
        media_base=f"/courses/{course.id}/media/",
        item_base=f"/courses/{course.id}/items/",
        item_ids=frozenset(item.id for module in course.modules for item in module.items),
        folder=folder,
    )
    lesson_html, prompt_html = renderer.lesson, renderer.prompt
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
                        body=text if render else "",
                        render=lesson_html,
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
                        prompts_html=RenderedOnUse(
                            {q.id: q.prompt if render else "" for q in item.questions},
                            prompt_html,
                        ),
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
        issuer_override=course.issuer,
    )


def load_issuer(file: Path, *, root: Path) -> tuple[issuer.IssuerContent | None, list[Problem]]:
    """courses/issuer.yaml: who issues certificates; None with problems when it is wrong."""
    problems: list[Problem] = []
    located = _read_yaml(file, problems)
    if located is None:
        return None, problems
    checker = _Checker(file, located)
    checker.issuer_images(located.data, file.parent)
    problems.extend(checker.problems)
    try:
        model = schema.Issuer.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, located, file))
        return None, _sorted(problems)
    if any(p.severity == "error" for p in problems):
        return None, _sorted(problems)
    return issuer.from_schema(model, folder=file.parent, root=root), problems


_CURRENT: dict[Path, tuple[tuple[int, int], issuer.IssuerContent | None]] = {}


def current_issuer(root: Path) -> issuer.IssuerContent | None:
    """`<root>/issuer.yaml` as it is now (None when missing or wrong), read again only when
    the file changes: for certificates issued before issuers were frozen on them."""
    file = (root / issuer.ISSUER_FILE).resolve()
    try:
        stat = file.stat()
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _CURRENT.get(file)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    content, _problems = load_issuer(file, root=root.resolve())
    _CURRENT[file] = (stamp, content)
    return content


def load_programme(file: Path) -> tuple[ProgrammeContent | None, list[Problem]]:
    problems: list[Problem] = []
    located = _read_yaml(file, problems)
    if located is None:
        return None, problems
    checker = _Checker(file, located)
    checker.issuer_images(located.data.get("issuer"), file.parent, ("issuer",))
    problems.extend(checker.problems)
    try:
        programme = schema.Programme.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, located, file))
        return None, _sorted(problems)
    if any(p.severity == "error" for p in problems):
        return None, _sorted(problems)
    return (
        ProgrammeContent(
            id=programme.id,
            title=programme.title,
            hours=programme.hours,
            courses=tuple(programme.courses),
            summary=programme.summary or "",
            language=programme.language,
            source=file,
            issuer_override=programme.issuer,
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


def courses_root(path: Path) -> Path:
    """The courses folder a path belongs to: where issuer.yaml and programmes/ live."""
    if path.is_file():
        return path.parent.parent
    if (path / COURSE_FILE).is_file() and not (path / issuer.ISSUER_FILE).is_file():
        return path.parent
    return path


def load_catalogue(
    paths: Iterable[Path],
    *,
    render: bool = True,
    fallback_issuer: issuer.IssuerContent | None = None,
) -> LoadResult:
    """Load every course under the given paths, plus programmes in `<root>/programmes/`
    and who issues their certificates (`<root>/issuer.yaml`; `fallback_issuer` when that
    file fails to load)."""
    result = LoadResult()
    seen: dict[str, Path] = {}
    programme_files: list[tuple[Path, Path, issuer.IssuerContent | None]] = []
    issuers: dict[Path, issuer.IssuerContent | None] = {}
    for root in paths:
        base = courses_root(root)
        if base.resolve() not in issuers:
            issuers[base.resolve()] = _root_issuer(result, base, fallback_issuer)
        root_issuer = issuers[base.resolve()]
        folders = course_folders(root)
        if not folders and not (root / PROGRAMMES_DIR).is_dir():
            result.problems.append(Problem(root, 1, 1, Message(N_("no course.yaml found here"))))
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
                        Message(
                            N_("course id '%(id)s' is already used by %(folder)s"),
                            {"id": course_id, "folder": str(seen[course_id])},
                        ),
                    )
                )
                continue
            if course_id:
                seen[course_id] = folder
            if content is not None:
                resolved = issuer.resolve(
                    root_issuer, content.issuer_override, folder=folder, root=base
                )
                result.courses[content.id] = dataclasses.replace(content, issuer=resolved)
            else:
                result.failed_sources.add(folder.resolve())
        if root.is_dir() and (root / PROGRAMMES_DIR).is_dir():
            programme_files.extend(
                (file, base, root_issuer) for file in sorted((root / PROGRAMMES_DIR).glob("*.yaml"))
            )
    for file, base, root_issuer in programme_files:
        programme, problems = load_programme(file)
        result.problems.extend(problems)
        if programme is None:
            result.failed_sources.add(file.resolve())
            continue
        programme = dataclasses.replace(
            programme,
            issuer=issuer.resolve(
                root_issuer, programme.issuer_override, folder=file.parent, root=base
            ),
            parts=tuple(
                (c.id, c.title, c.hours)
                for course_id in programme.courses
                if (c := result.courses.get(course_id)) is not None
            ),
        )
        for index, course_id in enumerate(programme.courses):
            if course_id not in seen:
                line, col = _programme_course_position(file, index)
                result.problems.append(
                    Problem(
                        file,
                        line,
                        col,
                        Message(N_("programme names unknown course '%(id)s'"), {"id": course_id}),
                        about=course_id,
                    )
                )
        result.programmes[programme.id] = programme
        _check_programme_hours(result, programme, file)
    _check_translations(result, seen)
    return result


def _root_issuer(
    result: LoadResult, base: Path, fallback: issuer.IssuerContent | None
) -> issuer.IssuerContent | None:
    file = base / issuer.ISSUER_FILE
    if not file.is_file():
        return None
    content, problems = load_issuer(file, root=base)
    result.problems.extend(problems)
    if content is None:
        result.issuer_failed = True
        result.failed_sources.add(file.resolve())
        content = fallback
    if result.issuer is None:
        result.issuer = content
    return content


def _check_programme_hours(result: LoadResult, programme: ProgrammeContent, file: Path) -> None:
    """A programme's hours against its courses' item minutes (when every course loaded)."""
    courses = [result.courses.get(course_id) for course_id in programme.courses]
    if not courses or any(course is None for course in courses):
        return
    minutes = sum(course.minutes for course in courses if course is not None)
    warning = hours.programme_hours(programme.hours, minutes)
    if warning is not None:
        line, col = _position_in(file, ("hours",))
        result.problems.append(Problem(file, line, col, warning, severity="warning"))


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
                        file,
                        line,
                        col,
                        Message(N_("translation names unknown course '%(id)s'"), {"id": other}),
                        about=other,
                    )
                )
            elif target is not None and target.language == course.language:
                result.problems.append(
                    Problem(
                        file,
                        line,
                        col,
                        Message(
                            N_("translation '%(id)s' is in the same language (%(language)s)"),
                            {"id": other, "language": course.language},
                        ),
                        severity="warning",
                    )
                )


def _position_in(file: Path, path: tuple[str | int, ...]) -> tuple[int, int]:
    from ecampus.courses import yamlnodes

    try:
        return yamlnodes.load(file.read_text(encoding="utf-8")).position(path)
    except (OSError, UnicodeDecodeError, yamlnodes.YamlSyntaxError):
        return (1, 1)


def _peek_id(folder: Path) -> str | None:
    from ecampus.courses import yamlnodes

    try:
        located = yamlnodes.load((folder / COURSE_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yamlnodes.YamlSyntaxError):
        return None
    value = located.data.get("id") if isinstance(located.data, dict) else None
    return value if isinstance(value, str) else None


def _programme_course_position(file: Path, index: int) -> tuple[int, int]:
    return _position_in(file, ("courses", index))
