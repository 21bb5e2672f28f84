"""Message catalogues for every layer: the web pages, the command line and the validator.

Domain code describes a message as a `Message` (an English msgid and its parameters) and
never picks a language; whoever shows it (a page, the CLI) renders it for its reader.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SUPPORTED = ("es", "en")
DEFAULT = "es"
# What the environment's locale is read from, in the order gettext itself consults them.
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


@lru_cache(maxsize=8)
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of a language (compiled from its .po in memory, once)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


@lru_cache(maxsize=8)
def locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT)


def N_(msgid: str) -> str:  # noqa: N802 - the gettext convention extractors look for
    """Mark a msgid for extraction; it is translated later, where it is shown."""
    return msgid


def lazy_ngettext(singular: str, plural: str, num: int, **params: Any) -> Message:
    """A message with a count, its singular or plural form picked when it is rendered
    (`make messages` extracts it as a plural entry)."""
    return Message(singular, {"num": num, **params}, plural=plural)


def supported_language(tag: str | None) -> str | None:
    """The supported language of a tag such as es_GT.UTF-8, es-GT or en; None otherwise."""
    if not tag:
        return None
    code = tag.split(".", 1)[0].split("@", 1)[0].replace("_", "-").split("-", 1)[0].lower()
    return code if code in SUPPORTED else None


def language_from_environment(
    environ: Mapping[str, str] | None = None, *, default: str = DEFAULT
) -> str:
    """The language the environment's locale asks for (LC_ALL, then LC_MESSAGES, then LANG);
    the first variable that is set decides, and C, POSIX or an unsupported language falls
    back to `default`."""
    environ = os.environ if environ is None else environ
    for name in LOCALE_VARIABLES:
        value = environ.get(name)
        if value:
            return supported_language(value) or (default if default in SUPPORTED else DEFAULT)
    return default if default in SUPPORTED else DEFAULT


@dataclass(frozen=True, slots=True)
class Message:
    """A message to show later, in the reader's language: an English msgid (a key of the
    .po catalogues) and its parameters. Parameters may be Messages themselves; numbers are
    written the reader's way when rendered. With `plural`, `count` names the parameter
    that picks the singular or plural form."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None
    count: str = "num"

    def render(self, language: str | None = None) -> str:
        """The message in a language (English, the msgid itself, when None)."""
        catalogue = translations(language) if language else NullTranslations()
        if self.plural is not None:
            n = self.params.get(self.count, 0)
            text = catalogue.ungettext(self.msgid, self.plural, int(n))
        else:
            text = catalogue.ugettext(self.msgid)
        if not self.params:
            return text
        return text % {key: _shown(value, language) for key, value in self.params.items()}

    def __str__(self) -> str:
        return self.render(None)

    def __hash__(self) -> int:  # the params mapping is not hashable; its contents are
        return hash((self.msgid, self.plural, self.count, tuple(sorted(self.params.items()))))


def _shown(value: Any, language: str | None) -> str:
    if isinstance(value, Message):
        return value.render(language)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return format_decimal(value, format="#,##0.##", locale=locale(language or "en"))


def render(message: Message | str, language: str | None = None) -> str:
    """A Message in a language; plain text (from code that predates Messages) as it is."""
    return message.render(language) if isinstance(message, Message) else message
