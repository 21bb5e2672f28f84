"""Text compared without case or accents, the same way in Python, SQLite and PostgreSQL.

"Ana Garcia", "ANA GARCÍA" and "ana garcía" fold to "ana garcia". The fold is one table of
single characters (ASCII capitals and the Latin letters with diacritics that decompose to an
ASCII letter, plus a few that do not decompose, such as ø and ł), so that PostgreSQL's
`translate()` applies exactly the table Python applies, whatever the database's locale
(`lower()` depends on it, and SQLite's only knows ASCII). SQLite has no `translate()`: there
the same Python function is registered on each connection (`register_sqlite`, called by
`ecampus.db`). Characters outside the table are compared as they are.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

SQLITE_FUNCTION = "ecampus_fold"
# Letters with no canonical decomposition that people still type without their mark.
_UNDECOMPOSED = {"Ø": "o", "ø": "o", "Đ": "d", "đ": "d", "Ł": "l", "ł": "l", "Ħ": "h", "ħ": "h"}


def _table() -> dict[str, str]:
    pairs = {chr(c): chr(c).lower() for c in range(ord("A"), ord("Z") + 1)}
    # Latin-1 Supplement, Latin Extended-A and B: á, Ñ, ş, ő, ǎ ...
    for point in range(0x00C0, 0x0250):
        char = chr(point)
        base = unicodedata.normalize("NFD", char)[0]
        if base != char and base.isascii() and base.isalpha():
            pairs[char] = base.lower()
    pairs.update(_UNDECOMPOSED)
    return pairs


_PAIRS = _table()
FROM_CHARS = "".join(_PAIRS)
TO_CHARS = "".join(_PAIRS.values())
# str.translate with a table this size takes ~200 ns a character on non-ASCII text, and SQLite
# calls the fold once per row searched; so the non-ASCII letters of the table go by a regular
# expression (a name holds one or two), then the ASCII capitals by lower() (exactly A-Z when
# what is left is ASCII).
_ACCENTED = {k: v for k, v in _PAIRS.items() if not k.isascii()}
_ACCENTED_RE = re.compile("[" + "".join(_ACCENTED) + "]")
_CAPITALS_RE = re.compile("[A-Z]")


def fold_text(text: str | None) -> str | None:
    """``text`` without case or accents (None stays None, as SQL NULL does)."""
    if text is None:
        return None
    if text.isascii():
        return text.lower()
    # NFC first: a name typed as "a" + combining acute folds like the precomposed "á".
    text = _ACCENTED_RE.sub(_accented, unicodedata.normalize("NFC", text))
    if text.isascii():
        return text.lower()
    return _CAPITALS_RE.sub(_lower, text)


def _accented(match: re.Match[str]) -> str:
    return _ACCENTED[match.group()]


def _lower(match: re.Match[str]) -> str:
    return match.group().lower()


def _preimages() -> dict[str, str]:
    found: dict[str, set[str]] = {}
    for char, folded in _PAIRS.items():
        found.setdefault(folded, {folded}).add(char)
    return {folded: "".join(sorted(chars)) for folded, chars in found.items()}


_PREIMAGES = _preimages()


def regex_pattern(text: str) -> str:
    """A PostgreSQL regular expression finding anything that folds to the folded ``text``:
    each letter becomes the class of every character the table folds to it ("a" is
    [AaÀÁ...]), anything else stands for itself."""
    parts = []
    for char in fold_text(text) or "":
        if char in _PREIMAGES:
            parts.append(f"[{_PREIMAGES[char]}]")
        elif char.isascii() and not char.isalnum():
            parts.append("\\" + char)
        else:
            parts.append(char)
    return "".join(parts)


def contains(value: ColumnElement[str], text: str, *, dialect: str) -> ColumnElement[bool]:
    """SQL: whether ``value`` holds ``text``, both folded. On PostgreSQL a regular expression
    of character classes (`regex_pattern`): translate() with this table is slow there (it
    scans the table for every character), a regular expression is as fast as lower(); on
    SQLite the registered fold and LIKE."""
    if dialect == "postgresql":
        return value.regexp_match(regex_pattern(text))
    return fold(value).like(like_pattern(text), escape="\\")


def like_pattern(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) finding the folded ``text`` anywhere."""
    folded = fold_text(text) or ""
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class fold(FunctionElement[str]):  # noqa: N801 - SQL functions read as lower-case calls
    """SQL: the column folded as `fold_text` folds a string."""

    type = String()
    inherit_cache = True
    name = "ecampus_fold"


@compiles(fold)
def _fold_default(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL (and any database with translate()): one pass over the value.
    arguments = compiler.process(element.clauses, **kw)
    source = compiler.process(_literal(FROM_CHARS), **kw)
    target = compiler.process(_literal(TO_CHARS), **kw)
    return f"translate({arguments}, {source}, {target})"


@compiles(fold, "sqlite")
def _fold_sqlite(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_FUNCTION}({compiler.process(element.clauses, **kw)})"


def _literal(value: str) -> ColumnElement[str]:
    return literal(value, String())


def register_sqlite(dbapi_connection: Any) -> None:
    """Makes `ecampus_fold()` callable on a sqlite3 connection (deterministic, so SQLite may
    use it in indexes and cache its results)."""
    dbapi_connection.create_function(SQLITE_FUNCTION, 1, fold_text, deterministic=True)
