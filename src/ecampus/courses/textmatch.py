"""How typed answers are compared: shared by the validator and the grader."""

from __future__ import annotations

import unicodedata


def normalise_text(value: str) -> str:
    """Compare typed answers ignoring case, accents and outer or repeated spaces."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())
