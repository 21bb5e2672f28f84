"""Markdown to safe HTML: CommonMark plus tables, raw HTML off, then sanitised."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import nh3

if TYPE_CHECKING:
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
    from markdown_it import MarkdownIt  # imported when the first lesson is shown, not at start

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


# Files a course folder may hold and serve to learners (never its YAML or Markdown sources).
MEDIA_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".svg": "image/svg+xml", ".pdf": "application/pdf",
    ".mp3": "audio/mpeg", ".mp4": "video/mp4", ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
}  # fmt: skip


def is_relative_media(url: str) -> bool:
    """A path inside the course folder, e.g. `img/mapa.png` (not a URL, anchor or site path)."""
    if not url or url.startswith(("/", "#", "?")) or ":" in url.split("/", 1)[0]:
        return False
    return PurePosixPath(url.split("#", 1)[0].split("?", 1)[0]).suffix.lower() in MEDIA_TYPES


_INLINE_TARGET = re.compile(r"\]\(\s*<?([^)\s>]+)")
_REFERENCE_TARGET = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)", re.MULTILINE)


def link_targets(text: str) -> list[str]:
    """Targets of Markdown links and images (inline and reference style).

    A regular expression rather than a full parse: the validator checks thousands of
    lessons, and a false hit inside a code block costs at most a warning.
    """
    if "](" not in text and "]:" not in text:
        return []
    return _INLINE_TARGET.findall(text) + _REFERENCE_TARGET.findall(text)


def media_references(text: str) -> list[str]:
    """Relative media paths a Markdown text refers to (images and linked files)."""
    return list(dict.fromkeys(url for url in link_targets(text) if is_relative_media(url)))


_ITEM_LINK = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def is_item_link(url: str) -> bool:
    """`[next lesson](derechos)`: a bare item id links to that item of the same course."""
    return bool(_ITEM_LINK.fullmatch(url))


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "style":
        # markdown-it writes column alignment as style; keep only that.
        return value if value.startswith("text-align:") and ";" not in value[:-1] else None
    return value


def to_html(
    text: str,
    *,
    media_base: str | None = None,
    item_base: str | None = None,
    item_ids: frozenset[str] = frozenset(),
) -> str:
    """Render author Markdown to HTML that is safe to put in a page as it is.

    With media_base, relative paths to media files point into the course's media route;
    with item_base, links to an item id of the course point to that item's page.
    """
    raw = _parser().render(text)

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if media_base and attribute in ("src", "href") and is_relative_media(value):
            return media_base + value.removeprefix("./")
        if item_base and tag == "a" and attribute == "href" and value in item_ids:
            return item_base + value
        return _attribute_filter(tag, attribute, value)

    html = nh3.clean(
        raw,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        link_rel="noopener noreferrer",
        url_schemes={"http", "https", "mailto"},
    )
    # Lessons are read on slow links: images never block the text around them.
    return html.replace("<img ", '<img loading="lazy" ')


_IMG = re.compile(r'<img ([^>]*?)src="([^"]+)"([^>]*)>')


def size_images(html: str, *, media_base: str, folder: Path) -> str:
    """Give course images their width and height, so pages do not jump as they load."""

    def sized(match: re.Match[str]) -> str:
        before, src, after = match.groups()
        if "width=" in before + after or not src.startswith(media_base):
            return match.group(0)
        path = (folder / src.removeprefix(media_base)).resolve()
        if not path.is_relative_to(folder.resolve()) or not path.is_file():
            return match.group(0)
        import imagesize

        try:
            width, height = imagesize.get(path)
        except (OSError, ValueError):
            return match.group(0)
        if width <= 0 or height <= 0:
            return match.group(0)
        return f'<img {before}src="{src}" width="{int(width)}" height="{int(height)}"{after}>'

    return _IMG.sub(sized, html) if "<img " in html else html


def to_inline_html(
    text: str,
    *,
    media_base: str | None = None,
    item_base: str | None = None,
    item_ids: frozenset[str] = frozenset(),
) -> str:
    """Render a short Markdown text (a quiz prompt) without a wrapping paragraph."""
    html = to_html(text, media_base=media_base, item_base=item_base, item_ids=item_ids).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html
