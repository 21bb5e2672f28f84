"""YAML syntax errors an author can act on: the parser's words translated, plus a hint.

libyaml (and PyYAML's pure-Python parser) describe what the parser saw ("mapping values
are not allowed in this context"); authors need what to change ("put the title in quotes").
The hint comes from the parser's words and the offending line of the file.
"""

from __future__ import annotations

import re

from ecampus.i18n import N_, Message

Position = tuple[int, int]  # 1-based line and column

# The parser's own words (libyaml's first, then PyYAML's pure-Python spellings), listed so
# that they are extracted into the catalogues and translated.
KNOWN_PROBLEMS = (
    N_("mapping values are not allowed in this context"),
    N_("mapping values are not allowed here"),
    N_("found character that cannot start any token"),
    N_("found a tab character that violates indentation"),
    N_("found a tab character where an indentation space is expected"),
    N_("found unexpected end of stream"),
    N_("did not find expected ',' or ']'"),
    N_("did not find expected ',' or '}'"),
    N_("did not find expected '-' indicator"),
    N_("did not find expected key"),
    N_("did not find expected node content"),
    N_("could not find expected ':'"),
    N_("did not find expected alphabetic or numeric character"),
    N_("block sequence entries are not allowed in this context"),
    N_("found unknown escape character"),
    N_("found undefined tag handle"),
    N_("found unexpected ':'"),
)
KNOWN_CONTEXTS = (
    N_("while parsing a block collection"),
    N_("while parsing a block mapping"),
    N_("while parsing a block node"),
    N_("while parsing a flow node"),
    N_("while parsing a flow sequence"),
    N_("while parsing a flow mapping"),
    N_("while parsing a quoted scalar"),
    N_("while parsing a tag"),
    N_("while scanning a plain scalar"),
    N_("while scanning a quoted scalar"),
    N_("while scanning a simple key"),
    N_("while scanning a block scalar"),
    N_("while scanning an alias"),
    N_("while scanning an anchor"),
    N_("while scanning a tag"),
)

# How the hint names a value, by its key; any other key is "the value of `key`".
_FIELD_NAMES = {
    "title": N_("the title"),
    "summary": N_("the summary"),
    "prompt": N_("the question"),
    "explanation": N_("the explanation"),
    "feedback": N_("the feedback"),
    "text": N_("the option's text"),
    "body": N_("the text"),
    "answer": N_("the answer"),
    "name": N_("the name"),
}
_QUOTED_THEN_MORE = re.compile(r"""^\s*(?:-\s+)*[^\s:#][^:]*:\s+(["']).*?\1\s*[^\s#]""")
_KEY_LINE = re.compile(r"^(?P<indent>\s*(?:-\s+)*)(?P<key>[^\s#:'\"\[\]{}][^:#]*?)\s*:(?:\s+|$)")


def _line(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _what(key: str) -> Message:
    if key in _FIELD_NAMES:
        return Message(_FIELD_NAMES[key])
    return Message(N_("the value of `%(key)s`"), {"key": key})


def _quoted(value: str) -> str:
    """The value in double quotes, as YAML reads it back."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_hint(line: str, column: int | None = None) -> Message | None:
    """A key whose value holds `: ` (or starts with a character YAML reserves), when the
    parser stopped inside the value (past `column`)."""
    match = _KEY_LINE.match(line)
    if match is None or (column is not None and column - 1 <= match.end("key")):
        return None
    key = match.group("key").strip()
    value = line[match.end() :].rstrip()
    if not value or value[0] in "'\"":
        return None
    return Message(
        N_("put %(what)s in quotes: %(example)s"),
        {"what": _what(key), "example": f"{match.group('indent').lstrip()}{key}: {_quoted(value)}"},
    )


def hint(
    text: str, problem: str, context: str | None, at: Position, started: Position | None
) -> Message | None:
    """A way to fix a YAML syntax error, from the parser's words and the source text."""
    line = _line(text, at[0])
    column = at[1]
    if "\t" in line[: len(line) - len(line.lstrip())] or "tab character" in problem:
        return Message(N_("YAML indents with spaces, never tabs: replace the tabs on this line"))
    if problem.startswith("mapping values are not allowed"):
        quote = _quote_hint(line, column)
        if quote is not None:
            return quote
        return Message(
            N_(
                "this line is indented further than the key above it; keys of one mapping "
                "start in the same column"
            )
        )
    if problem == "found character that cannot start any token" and column <= len(line):
        char = line[column - 1]
        quote = _quote_hint(line, column)
        if quote is not None:
            return Message(
                N_("a value cannot start with %(char)s in YAML; %(fix)s"),
                {"char": char, "fix": quote},
            )
    if problem == "did not find expected alphabetic or numeric character" or (
        context and "alias" in context
    ):
        quote = _quote_hint(_line(text, started[0]) if started else line)
        if quote is not None:
            return Message(
                N_("a value cannot start with %(char)s in YAML; %(fix)s"),
                {"char": "*", "fix": quote},
            )
    if problem == "found unexpected end of stream" and context and "quoted" in context and started:
        return Message(
            N_("the quote opened at line %(line)s, column %(column)s is never closed"),
            {"line": str(started[0]), "column": str(started[1])},
        )
    if problem.startswith("did not find expected ','") and started:
        closing = "]" if "]" in problem else "}"
        return Message(
            N_(
                "close the %(opening)s opened at line %(line)s, column %(column)s with "
                "%(closing)s, and put in quotes any entry that contains a comma, a colon or "
                "a bracket"
            ),
            {
                "opening": "[" if closing == "]" else "{",
                "closing": closing,
                "line": str(started[0]),
                "column": str(started[1]),
            },
        )
    if problem == "could not find expected ':'":
        return Message(
            N_(
                "each line of a mapping is `key: value`; if this line continues the text "
                "above, indent it further than its key, or write the text as a block with `|`"
            )
        )
    if problem == "did not find expected '-' indicator" and started:
        return Message(
            N_(
                "the entries of a list start with `- ` in the same column as the first one "
                "(column %(column)s, line %(line)s); check this line's indentation"
            ),
            {"line": str(started[0]), "column": str(started[1])},
        )
    if problem == "did not find expected key" and started:
        if _QUOTED_THEN_MORE.match(line):  # e.g. title: "Hola" mundo
            return Message(
                N_("a value in quotes ends at its closing quote: put the whole value inside")
            )
        return Message(
            N_(
                "check this line's indentation: the keys of a mapping start in the same "
                "column as its first key (column %(column)s, line %(line)s)"
            ),
            {"line": str(started[0]), "column": str(started[1])},
        )
    if problem.startswith("block sequence entries are not allowed"):
        return Message(
            N_("start the list on the next line (`- ` indented under its key), or quote the value")
        )
    if problem == "found unknown escape character":
        return Message(
            N_(
                "inside double quotes a backslash starts an escape: write \\\\ for a "
                "backslash, or use single quotes"
            )
        )
    return None


def where_to_point(problem: str, at: Position, started: Position | None) -> Position:
    """The position to report: a line without `key:` is reported where it starts, not on the
    line after it where the parser noticed."""
    if problem == "could not find expected ':'" and started is not None:
        return started
    return at


def tag_hint(text: str, at: Position) -> Message | None:
    """A value starting with `!` reads as a YAML tag."""
    line = _line(text, at[0])
    if line[at[1] - 1 : at[1]] != "!":
        return None
    quote = _quote_hint(line)
    if quote is None:
        return None
    return Message(
        N_("a value cannot start with %(char)s in YAML; %(fix)s"), {"char": "!", "fix": quote}
    )


def value_hint(text: str, line_number: int, key: str, unknown_key: bool) -> Message | None:
    """Hints for well-formed YAML that does not say what the author meant: a text value
    read as a number, true/false or a comment, or an entry split by `: ` into a key."""
    line = _line(text, line_number)
    match = _KEY_LINE.match(line)
    if unknown_key:
        # e.g. `- Sí: claro` in a list of options reads as a mapping {Sí: claro}.
        if match is None or not match.group("indent").strip().startswith("-"):
            return None
        entry = line[len(match.group("indent")) :].rstrip()
        indent = match.group("indent")
        return Message(
            N_("an entry that contains “: ” must be in quotes: %(example)s"),
            {"example": f"{indent.strip()} {_quoted(entry)}"},
        )
    if match is None or match.group("key").strip() != key:
        return None
    value = line[match.end() :].rstrip()
    if value.startswith("#"):
        return Message(
            N_("in YAML, # after a space starts a comment, so %(what)s is empty; %(fix)s"),
            {
                "what": _what(key),
                "fix": Message(
                    N_("put %(what)s in quotes: %(example)s"),
                    {"what": _what(key), "example": f"{key}: {_quoted(value)}"},
                ),
            },
        )
    if value and value[0] not in "'\"[{|>":
        return Message(
            N_("YAML reads %(value)s as a number or true/false; %(fix)s"),
            {
                "value": value,
                "fix": Message(
                    N_("put %(what)s in quotes: %(example)s"),
                    {"what": _what(key), "example": f"{key}: {_quoted(value)}"},
                ),
            },
        )
    return None
