"""Jinja2 set-up: one environment, gettext per request, pages and their HTMX fragments."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from ecampus.web import i18n

current_language: ContextVar[str] = ContextVar("current_language", default=i18n.DEFAULT)


def _gettext(message: str, **variables: Any) -> str:
    text = i18n.translations(current_language.get()).ugettext(message)
    return text % variables if variables else text


def _ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = i18n.translations(current_language.get()).ungettext(singular, plural, n)
    return text % {"num": n, **variables}


def gettext(message: str, **variables: Any) -> str:
    """Translate a message into the language of the current request."""
    return _gettext(message, **variables)


def _static_hashes(static_dir: Path) -> dict[str, str]:
    hashes = {}
    for path in static_dir.rglob("*"):
        if path.is_file() and not path.name.endswith(".gz"):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            hashes[path.relative_to(static_dir).as_posix()] = digest
    return hashes


def _date(value: datetime | date | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    locale = i18n.locale(current_language.get())
    if isinstance(value, datetime):
        return format_datetime(value, format=fmt, locale=locale)
    return format_date(value, format=fmt, locale=locale)


def _day(value: datetime | date | None, fmt: str = "long") -> str:
    if value is None:
        return ""
    return format_date(value, format=fmt, locale=i18n.locale(current_language.get()))


def _number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=i18n.locale(current_language.get()))


def _percent(value: float | int | None) -> str:
    if value is None:
        return "—"
    return format_percent(value / 100, locale=i18n.locale(current_language.get()))


class Templates:
    def __init__(self, directory: Path, static_dir: Path) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=jinja2.select_autoescape(("html", "xml"), default=True),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            _gettext, _ngettext, newstyle=True
        )
        self.static_hashes = _static_hashes(static_dir)
        self.env.globals["static"] = self.static_url
        self.env.filters["date"] = _date
        self.env.filters["day"] = _day
        self.env.filters["number"] = _number
        self.env.filters["percent"] = _percent
        self.env.filters["safe_html"] = Markup
        self.context_hook: Callable[[Request], dict[str, Any]] | None = None

    def static_url(self, path: str) -> str:
        digest = self.static_hashes.get(path)
        return f"/static/{path}?v={digest}" if digest else f"/static/{path}"

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        status_code: int = 200,
        block: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """Render a page, or only its `block` when HTMX asks for a fragment."""
        template = self.env.get_template(name)
        base = self.context_hook(request) if self.context_hook else {}
        full_context = {**base, **context}
        current_language.set(full_context.get("lang", i18n.DEFAULT))
        if (
            block
            and request.headers.get("hx-request")
            and not request.headers.get("hx-history-restore-request")
        ):
            ctx = template.new_context(full_context)
            html = "".join(template.blocks[block](ctx))
        else:
            html = template.render(full_context)
        response = HTMLResponse(html, status_code=status_code, headers=headers)
        response.headers.setdefault("cache-control", "no-store")
        response.headers["content-language"] = full_context.get("lang", i18n.DEFAULT)
        seed = getattr(request.state, "new_csrf_seed", None)
        if seed:
            response.set_cookie(
                "ecampus_csrf", seed, httponly=True, samesite="lax", max_age=60 * 60 * 24 * 30
            )
        return response
