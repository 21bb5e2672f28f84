"""Mail bodies: Jinja templates under templates/mail/, in the recipient's language."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ecampus.i18n import DEFAULT, SUPPORTED, translations
from ecampus.settings import get_settings


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def mail_language(language: str | None) -> str:
    code = (language or "").split("-")[0].lower()
    return code if code in SUPPORTED else DEFAULT


@lru_cache(maxsize=8)
def _environment(directory: str, language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        # The plain-text part is never escaped; the HTML part always is.
        autoescape=jinja2.select_autoescape(("html",), default=False),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(language), newstyle=True
    )
    return env


def render_mail(
    kind: str,
    *,
    language: str,
    subject: str,
    context: dict[str, Any],
    templates_dir: Path | None = None,
) -> Rendered:
    """`mail/{kind}.txt` and `mail/{kind}.html` in `language`; `subject` is an English msgid
    formatted with `context`."""
    language = mail_language(language)
    directory = str((templates_dir or get_settings().templates_dir) / "")
    env = _environment(directory, language)
    full = {"lang": language, **context}
    title = translations(language).ugettext(subject) % full
    full["subject"] = title
    text = env.get_template(f"mail/{kind}.txt").render(full)
    html = env.get_template(f"mail/{kind}.html").render(full)
    return Rendered(subject=title, text=text, html=html)
