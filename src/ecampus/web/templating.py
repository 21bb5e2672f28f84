"""Jinja2 set-up: one environment, gettext per request, pages and their HTMX fragments."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import nodes
from markupsafe import Markup

from ecampus.localtime import local_day
from ecampus.web import i18n
from ecampus.web.assets import StaticAssets, gzip_body
from ecampus.web.reqstate import state_value

current_language: ContextVar[str] = ContextVar("current_language", default=i18n.DEFAULT)
# Every page: scripts only from this site (htmx and app.js are vendored), no framing, forms
# only to this site. Inline style attributes draw progress bars; lesson images may be remote.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data: https:; media-src 'self' https:; object-src 'none'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
# Budgets of the rendered-page and course-menu caches, in characters (a page is some 11,000):
# together at most about 12 MB of a worker's memory (1 to 2 bytes a character).
PAGE_CACHE_CHARS = 4_000_000
OUTLINE_CACHE_CHARS = 2_000_000
# Stands for the per-session CSRF token in cached pages; replaced on every response.
_CSRF_SLOT = "csrf-slot-9d1f0c7e"


def _gettext(message: str) -> str:
    # Jinja's newstyle gettext formats the result itself, with the template's variables.
    return i18n.translations(current_language.get()).ugettext(message)


def _plural(singular: str, plural: str, n: float) -> str:
    # gettext's plural rules see only whole numbers; plural_count picks the one that shares
    # the decimal's CLDR category ("4,5 horas", "0.5 hours").
    language = current_language.get()
    return i18n.translations(language).ungettext(singular, plural, i18n.plural_count(n, language))


@jinja2.pass_context
def _ngettext(
    context: jinja2.runtime.Context, singular: str, plural: str, n: float, /, **variables: Any
) -> str:
    # Jinja's newstyle ngettext, except that `num` is written the reader's way: "4,5" and
    # "1.000.000" in Spanish, "4.5" and "1,000,000" in English.
    variables.setdefault("num", i18n.format_number(n, current_language.get()))
    text = _plural(singular, plural, n)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - a message of ours; the variables get escaped
    return text % variables


def ngettext(singular: str, plural: str, n: float, **variables: Any) -> str:
    """The singular or plural of a message in the request's language (for Python code);
    `num` is the count, formatted for the reader."""
    variables.setdefault("num", i18n.format_number(n, current_language.get()))
    return _plural(singular, plural, n) % variables


def gettext(message: str, **variables: Any) -> str:
    """Translate a message into the language of the current request (for Python code)."""
    text = _gettext(message)
    return text % variables if variables else text


# Stored times are UTC (naive ones too); people read them in the institution's zone.
def _date(value: datetime | date | None, fmt: str = "medium", *, zone: tzinfo = UTC) -> str:
    if value is None:
        return ""
    locale = i18n.locale(current_language.get())
    if isinstance(value, datetime):
        return format_datetime(value, format=fmt, tzinfo=zone, locale=locale)
    return format_date(value, format=fmt, locale=locale)


def _day(value: datetime | date | str | None, fmt: str = "long", *, zone: tzinfo = UTC) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # ISO 8601, as the API's models carry instants
        value = datetime.fromisoformat(value)
    day = local_day(value, zone) if isinstance(value, datetime) else value
    return format_date(day, format=fmt, locale=i18n.locale(current_language.get()))


def _number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=i18n.locale(current_language.get()))


def _percent(value: float | int | None) -> str:
    if value is None:
        return "—"
    # Half up, like the certificate PDF (Babel alone would print 92.5 as 92 %).
    rounded = Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return format_percent(rounded / 100, locale=i18n.locale(current_language.get()))


class Templates:
    def __init__(self, directory: Path, assets: StaticAssets, *, zone: tzinfo = UTC) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=jinja2.select_autoescape(("html", "xml"), default=True),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            _gettext, ngettext, newstyle=True
        )
        # Jinja's newstyle wrapper would print `num` with str(); ours formats it by locale.
        self.env.globals["ngettext"] = _ngettext
        self.env.globals["static"] = assets.url
        self.env.filters["date"] = partial(_date, zone=zone)
        self.env.filters["day"] = partial(_day, zone=zone)
        self.env.filters["number"] = _number
        self.env.filters["percent"] = _percent
        self.env.filters["safe_html"] = Markup
        self.context_hook: Callable[[Request], dict[str, Any]] | None = None
        self.env.globals["outline"] = self.outline
        self._outlines: dict[tuple[Any, ...], Markup] = {}
        self._imported: dict[str, tuple[jinja2.Template, dict[str, Any]]] = {}
        self._pages: dict[tuple[Any, ...], str] = {}
        # Characters held by each cache: emptied past a budget as well as past a count, so a
        # worker's memory stays bounded whatever the pages weigh (docs/benchmarks.md).
        self._outline_chars = 0
        self._page_chars = 0

    def outline(self, course: Any, item: Any, state: Any) -> Markup:
        """The course menu beside a lesson, rendered once per course version, language,
        current item and set of finished items. Learners mostly finish items in order, so
        the same few menus serve everyone; the cache is bounded all the same."""
        lang = current_language.get()
        progress = state.progress
        key = (course.id, course.version, lang, item.id, progress.done, progress.percent)
        html = self._outlines.get(key)
        if html is None:
            template = self.env.get_template("learning/_outline.html")
            rendered = template.render(course=course, item=item, state=state, lang=lang)
            html = Markup(rendered)  # noqa: S704 - output of an autoescaping template
            if len(self._outlines) >= 4096 or self._outline_chars > OUTLINE_CACHE_CHARS:
                self._outlines.clear()
                self._outline_chars = 0
            self._outlines[key] = html
            self._outline_chars += len(html)
        return html

    @staticmethod
    def wants_fragment(request: Request, block: str) -> bool:
        """HTMX asked to swap exactly the element this block renders (its id is the name)."""
        return (
            request.headers.get("hx-request") == "true"
            and request.headers.get("hx-target") == block
            and not request.headers.get("hx-history-restore-request")
        )

    def _html(self, request: Request, name: str, context: dict[str, Any], block: str | None) -> str:
        template = self.env.get_template(name)
        if block and self.wants_fragment(request, block):
            # A block rendered on its own skips the template's top level, where its macros
            # are imported ({% from "macros/..." import ... %}): they are given to it here.
            fragment = {**self._imports_of(name, template), **context}
            html = "".join(template.blocks[block](template.new_context(fragment)))
            if "title" in template.blocks:
                # htmx takes the page title from a top-level <title> in the fragment.
                title = "".join(template.blocks["title"](template.new_context(fragment)))
                html = f"<title>{title.strip()} · ecampus</title>\n{html}"
            return html
        return template.render(context)

    def _imports_of(self, name: str, template: jinja2.Template) -> dict[str, Any]:
        """What the template's `{% from ... import ... %}` and `{% import ... as ... %}`
        bind, as Jinja2 binds them (each imported template's module, made without the
        page's context); read from its source once per loaded template."""
        known = self._imported.get(name)
        if known is not None and known[0] is template:
            return known[1]
        imports: dict[str, Any] = {}
        loader = self.env.loader
        if loader is not None:
            source = loader.get_source(self.env, name)[0]
            parsed = self.env.parse(source)
            for whole in parsed.find_all(nodes.Import):
                if isinstance(whole.template, nodes.Const):
                    imports[whole.target] = self.env.get_template(whole.template.value).module
            for some in parsed.find_all(nodes.FromImport):
                if isinstance(some.template, nodes.Const):
                    module = self.env.get_template(some.template.value).module
                    for entry in some.names:
                        imported, alias = entry if isinstance(entry, tuple) else (entry, entry)
                        imports[alias] = getattr(module, imported)
        self._imported[name] = (template, imports)
        return imports

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        status_code: int = 200,
        block: str | None = None,
        headers: dict[str, str] | None = None,
        cache_key: tuple[Any, ...] | None = None,
    ) -> HTMLResponse:
        """Render a page, or only its `block` when HTMX asks for a fragment.

        With a cache_key that names everything the page shows besides the CSRF token (the
        hot lesson page: course version, item, progress, role), the HTML is rendered once
        and the token put in by a string replace.
        """
        base = self.context_hook(request) if self.context_hook else {}
        full_context = {**base, **context}
        language = full_context.get("lang", i18n.DEFAULT)
        current_language.set(language)
        if cache_key is None:
            html = self._html(request, name, full_context, block)
        else:
            fragment = bool(block and self.wants_fragment(request, block))
            key = (name, fragment, language, *cache_key)
            cached = self._pages.get(key)
            if cached is None:
                cached = self._html(
                    request, name, {**full_context, "csrf_token": _CSRF_SLOT}, block
                )
                if len(self._pages) >= 2048 or self._page_chars > PAGE_CACHE_CHARS:
                    self._pages.clear()
                    self._page_chars = 0
                self._pages[key] = cached
                self._page_chars += len(cached)
            html = cached.replace(_CSRF_SLOT, full_context["csrf_token"])
        all_headers = {
            "cache-control": "no-store",
            "content-language": language,
            **SECURITY_HEADERS,
            **(headers or {}),
        }
        body = gzip_body(request, html.encode(), all_headers)
        response = HTMLResponse(body, status_code=status_code, headers=all_headers)
        seed = state_value(request, "new_csrf_seed")
        if seed:
            response.set_cookie(
                "ecampus_csrf",
                seed,
                httponly=True,
                samesite="lax",
                max_age=60 * 60 * 24 * 30,
                secure=request.app.state.settings.cookie_secure,
            )
        return response
