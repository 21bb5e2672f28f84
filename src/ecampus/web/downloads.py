"""Headers for files the app sends (reports), whatever their names hold."""

from __future__ import annotations

from urllib.parse import quote


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """A Content-Disposition value for any file name: a plain ASCII fallback, then the name
    itself in RFC 6266 form (filename*=UTF-8''...). A name built from a filter someone typed
    (é, €, quotes, a line break) then neither breaks the header (a 500) nor adds one."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename
    )
    kind = "inline" if inline else "attachment"
    if fallback == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
