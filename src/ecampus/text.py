"""Rules for text that people send us: what no field may hold, and what makes a usable name.

Domain-neutral: the accounts schemas, the web layer's request check and the command line
share these, so an API call, a form and an import refuse the same things with the same words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator

# PostgreSQL cannot store NUL in text, and a surrogate on its own (JSON's "\ud800") is not a
# character at all: no database, PDF or CSV can encode it.
_UNUSABLE = re.compile("[\x00\ud800-\udfff]")
# Embeddings, overrides and isolates reorder what follows them: inside a name they would make
# a certificate show something other than what was typed.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Invisible at the edges of a line: separators and format characters (zero-width space and
# joiners, word joiner, byte-order mark, direction marks).
_EDGE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})

NUL_MESSAGE = "must not contain NUL characters (U+0000)"
SURROGATE_MESSAGE = "must not contain unpaired surrogates (U+D800 to U+DFFF); send valid Unicode"


def unusable(value: str) -> str | None:
    """Why no field can hold `value` (NUL, a lone surrogate), or None when it is fine."""
    found = _UNUSABLE.search(value)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


def unusable_strings(
    value: Any, loc: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(where, why) for every key or string inside decoded JSON or form values that no field
    can hold. Iterative, so a deeply nested body cannot exhaust the stack."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [(loc, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if (why := unusable(item)) is not None:
                yield where, why
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and (why := unusable(key)) is not None:
                    yield (*where, terminal_safe(key)), why
                else:
                    stack.append(((*where, key), child))
        elif isinstance(item, list | tuple):
            stack.extend(((*where, i), child) for i, child in enumerate(item))


def _strip_invisible(value: str) -> str:
    start, end = 0, len(value)
    while start < end and unicodedata.category(value[start]) in _EDGE_CATEGORIES:
        start += 1
    while end > start and unicodedata.category(value[end - 1]) in _EDGE_CATEGORIES:
        end -= 1
    return value[start:end]


def clean_line(value: str) -> str:
    """One line of text as stored: NFC, no invisible characters or spaces at either end, runs
    of spaces made one; refuses NUL, lone surrogates and control characters (tab, newline,
    escape) anywhere."""
    if (why := unusable(value)) is not None:
        raise ValueError(why)
    value = unicodedata.normalize("NFC", value)
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must be a single line without control characters")
    return re.sub(r"\s{2,}", " ", _strip_invisible(value))


def clean_person_name(value: str) -> str:
    """A name as certificates print it: a clean line with letters in it, no direction controls."""
    value = clean_line(value)
    if len(value) < 2:
        raise ValueError("must have at least 2 characters")
    if not any(unicodedata.category(c).startswith("L") for c in value):
        raise ValueError("must contain letters: spaces and invisible characters are not a name")
    if any(c in _BIDI_CONTROLS for c in value):
        raise ValueError(
            "must not contain text-direction controls (U+202A to U+202E, U+2066 to U+2069)"
        )
    return value


def terminal_safe(value: str) -> str:
    """`value` for a terminal: control, format and separator characters (ANSI escapes, bidi
    overrides, line breaks) written as visible escapes such as \\x1b, never sent raw."""
    out: list[str] = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}:
            code = ord(char)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


Line = Annotated[str, AfterValidator(clean_line)]
PersonName = Annotated[str, AfterValidator(clean_person_name)]
