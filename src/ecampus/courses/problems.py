"""What the validator finds: a position, a severity and a message in no language yet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecampus.i18n import N_, Message, render


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of the validator, printed as `file:line:col: message`.

    `text` (and `hint`, a way to fix it) are Messages, rendered in the reader's language
    by whoever shows them; `message` is the English text.
    """

    file: Path
    line: int
    column: int
    text: Message | str
    severity: str = "error"
    about: str = ""  # for cross-file problems: the course id the problem names
    hint: Message | None = None

    @property
    def message(self) -> str:
        return render(self.text)

    def shown_file(self, relative_to: Path | None = None) -> Path:
        if relative_to is not None:
            try:
                return self.file.resolve().relative_to(relative_to.resolve())
            except ValueError:
                pass
        return self.file

    def describe(self, language: str | None = None) -> str:
        """The message and its hint, in a language (English when None)."""
        text = render(self.text, language)
        if self.hint is None:
            return text
        return Message(
            N_("%(message)s. Hint: %(hint)s"), {"message": text, "hint": self.hint}
        ).render(language)

    def format(self, relative_to: Path | None = None, language: str | None = None) -> str:
        label = (
            "" if self.severity == "error" else f"{render(SEVERITIES[self.severity], language)}: "
        )
        return (
            f"{self.shown_file(relative_to)}:{self.line}:{self.column}: "
            f"{label}{self.describe(language)}"
        )


# The severity words as the CLI prints them before a message ("warning: ...").
SEVERITIES = {"error": Message(N_("error")), "warning": Message(N_("warning"))}
