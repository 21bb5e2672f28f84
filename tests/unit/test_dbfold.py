"""Searches that ignore case and accents fold alike in Python, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import literal, select

from ecampus.db import make_engine
from ecampus.dbfold import contains, fold, fold_text, like_pattern

SAMPLES = [
    ("Ana García", "ana garcia"),
    ("ANA GARCÍA", "ana garcia"),
    ("Ana Garci\u0301a", "ana garcia"),  # a combining accent, as some keyboards send it
    ("Ñandú Şahin Łódź Øre", "nandu sahin lodz ore"),
    ("JOSÉ-MARÍA_O'Brien 50%", "jose-maria_o'brien 50%"),
]


@pytest.mark.parametrize(("text", "folded"), SAMPLES)
def test_python_fold(text: str, folded: str) -> None:
    assert fold_text(text) == folded


def test_like_pattern_escapes_wildcards() -> None:
    assert like_pattern("50%_a\\B") == "%50\\%\\_a\\\\b%"


def test_the_database_folds_as_python_does(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            # Stored text is NFC (ecampus.text), so the database needs no normalisation.
            for text, folded in [s for s in SAMPLES if "\u0301" not in s[0]]:
                value = connection.execute(select(fold(literal(text)))).scalar()
                assert value == fold_text(text) == folded
                found = connection.execute(
                    select(fold(literal(text)).like(like_pattern(text.upper()), escape="\\"))
                ).scalar()
                assert found
    finally:
        engine.dispose()


def test_the_fast_path_folds_exactly_as_the_table() -> None:
    """Every character of Latin-1, Latin Extended-A/B and a few other scripts, alone and in
    a word, folds as one pass of the table would (what translate() does on PostgreSQL)."""
    from ecampus.dbfold import FROM_CHARS, TO_CHARS

    table = str.maketrans(FROM_CHARS, TO_CHARS)
    samples = [chr(c) for c in range(0x20, 0x0250)] + list("ΣΩЖЯ İı ß Æ œ")
    for char in samples:
        for text in (char, f"Ab{char}Cd", f"{char}É"):
            assert fold_text(text) == text.translate(table), repr(text)


def test_the_database_finds_what_python_finds(database_url: str) -> None:
    """`contains()` (a regular expression on PostgreSQL, the registered fold on SQLite)
    answers as Python's folded comparison does, wildcards and brackets included."""
    engine = make_engine(database_url)
    texts = ["Ana García", "JOSÉ NÚÑEZ\njose@example.org", "Łódź [50%] a_b", "ΣΩ Ψ", "c.d*e+f?"]
    words = ["garcia", "ANA", "josé", "nunez", "LODZ", "[50%]", "50%", "a_b", "a%b", "σω",
             "ΣΩ", ".", "c.d", "d*e+f?", "x", "e@ex"]  # fmt: skip
    try:
        with engine.connect() as connection:
            dialect = connection.dialect.name
            for text in texts:
                for word in words:
                    found = connection.execute(
                        select(contains(literal(text), word, dialect=dialect))
                    ).scalar()
                    expected = (fold_text(word) or "") in (fold_text(text) or "")
                    assert bool(found) == expected, (text, word)
    finally:
        engine.dispose()
