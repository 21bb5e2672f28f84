"""Searches that ignore case and accents fold alike in Python, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import literal, select

from ecampus.db import make_engine
from ecampus.dbfold import fold, fold_text, like_pattern

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
