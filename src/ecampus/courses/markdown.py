"""Markdown to safe HTML: CommonMark plus tables, raw HTML off, then sanitised."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "dl", "dt", "em", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height", "loading"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
    "code": {"class"},
}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "style":
        # markdown-it writes column alignment as style; keep only that.
        return value if value.startswith("text-align:") and ";" not in value[:-1] else None
    return value


def to_html(text: str) -> str:
    """Render author Markdown to HTML that is safe to put in a page as it is."""
    raw = _parser().render(text)
    html = nh3.clean(
        raw,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        link_rel="noopener noreferrer",
        url_schemes={"http", "https", "mailto"},
    )
    # Lessons are read on slow links: images never block the text around them.
    return html.replace("<img ", '<img loading="lazy" ')


def to_inline_html(text: str) -> str:
    """Render a short Markdown text (a quiz prompt) without a wrapping paragraph."""
    html = to_html(text).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html
