"""YAML to plain Python data plus the line and column of every key and value.

PyYAML's C composer keeps a mark on every node, which is all the positions we need and
an order of magnitude faster than a round-trip parser. Duplicate keys are reported, not
silently overwritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ecampus.courses import yamlhints
from ecampus.i18n import N_, Message

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when built with it


class _Loader(_Base):
    """The YAML 1.2 core schema. YAML 1.1, PyYAML's default, turns an option written `No`
    into false, `1:30` into 90, `010` into 8 and `2024-05-01` into a date; authors mean
    the text they wrote."""


_REPLACED = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)

Path = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based line and column
_MAX_DEPTH = 64
# Aliases (*name) repeat a node without copying it, so a few lines can stand for billions of
# values ("billion laughs"); building them would take the server's memory and time. The
# largest real course holds a few thousand.
_MAX_VALUES = 100_000


@dataclass
class Located:
    """Data loaded from YAML, with the position of each value and each mapping key."""

    data: Any
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)
    duplicates: list[tuple[Position, str]] = field(default_factory=list)
    text: str = ""  # the source, for hints that quote a line

    def position(self, path: Path, *, key: bool = False) -> Position:
        """The position of a path, falling back to its nearest known ancestor."""
        table = (self.keys, self.values) if key else (self.values, self.keys)
        current = path
        while True:
            for positions in table:
                if current in positions:
                    return positions[current]
            if not current:
                return (1, 1)
            current = current[:-1]


class YamlSyntaxError(ValueError):
    """Bad YAML: where, what (a Message, in no language yet) and, when known, how to fix it."""

    def __init__(self, text: Message, position: Position, hint: Message | None = None) -> None:
        super().__init__(str(text))
        self.text = text
        self.hint = hint
        self.position = position

    @property
    def message(self) -> str:
        return str(self.text)


class _Constructor(yaml.constructor.SafeConstructor):
    def construct_yaml_int(self, node: yaml.Node) -> int:
        text = str(self.construct_scalar(node))
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)  # YAML 1.2: a leading zero is still decimal


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)


def _mark(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, located: Located) -> None:
        self.located = located
        self.constructor = _Constructor()
        self.built = 0

    def build(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise YamlSyntaxError(Message(N_("nesting is too deep")), _mark(node))
        self.built += 1
        if self.built > _MAX_VALUES:
            raise YamlSyntaxError(
                Message(
                    N_("more than %(limit)s values once aliases (*name) are expanded"),
                    {"limit": str(_MAX_VALUES)},
                ),
                _mark(node),
            )
        self.located.values[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            self.constructor.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise YamlSyntaxError(
                        Message(N_("mapping keys must be plain values")), _mark(key_node)
                    )
                key = self.constructor.construct_object(key_node)
                key = key if isinstance(key, str) else str(key)
                if key in result:
                    self.located.duplicates.append((_mark(key_node), key))
                    continue
                self.located.keys[(*path, key)] = _mark(key_node)
                result[key] = self.build(value_node, (*path, key), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(child, (*path, index), depth + 1)
                for index, child in enumerate(node.value)
            ]
        return self.constructor.construct_object(node)


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> YamlSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    position = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    start = exc.context_mark
    started = (start.line + 1, start.column + 1) if start is not None else None
    problem = str(exc.problem or exc)
    hint = yamlhints.hint(text, problem, exc.context, position, started)
    shown = yamlhints.where_to_point(problem, position, started)
    if exc.context and started is not None and started != shown:
        # e.g. "while parsing a flow sequence": where the unclosed construct began.
        message = Message(
            N_(
                "YAML syntax error: %(problem)s (%(context)s that started at line %(line)s, "
                "column %(column)s)"
            ),
            {
                "problem": Message(problem),
                "context": Message(exc.context),
                "line": str(started[0]),
                "column": str(started[1]),
            },
        )
    else:
        message = Message(N_("YAML syntax error: %(problem)s"), {"problem": Message(problem)})
    return YamlSyntaxError(message, shown, hint)


def load(text: str) -> Located:
    """Parse one YAML document; raise YamlSyntaxError with a position on bad syntax."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(
            Message(N_("YAML syntax error: %(problem)s"), {"problem": str(exc)}), (1, 1)
        ) from None
    located = Located(data=None, text=text)
    if node is None:
        return located
    try:
        located.data = _Builder(located).build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        position = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlSyntaxError(
            Message(N_("YAML error: %(problem)s"), {"problem": str(exc.problem)}),
            position,
            yamlhints.tag_hint(text, position),
        ) from None
    return located
