"""Static assets served from memory, gzipped once (on first request), cached for a year by hash."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import Response

MIN_GZIP = 600


def accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


def gzip_body(request: Request, body: bytes, headers: dict[str, str]) -> bytes:
    """Compress a dynamic body for clients that accept it (level 1: most of the saving,
    a fraction of the CPU of level 6, which matters on every lesson page)."""
    headers["vary"] = "Accept-Encoding"
    if len(body) < MIN_GZIP or not accepts_gzip(request):
        return body
    headers["content-encoding"] = "gzip"
    return gzip.compress(body, compresslevel=1, mtime=0)


@dataclass(frozen=True, slots=True)
class Asset:
    media_type: str
    body: bytes
    compressible: bool
    digest: str


def hashed_name(name: str, digest: str) -> str:
    """css/app.css -> css/app.3f2a1b9c0d.css: a new name whenever the content changes."""
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


class StaticAssets:
    """Every file under the static folder, read once; small enough to keep in memory.

    Pages link to content-hashed names, which browsers may cache for a year; the plain
    names keep working with a short cache, for anything that links to them directly.
    """

    def __init__(self, directory: Path) -> None:
        self.assets: dict[str, Asset] = {}
        self.hashed: dict[str, Asset] = {}
        self._urls: dict[str, str] = {}
        # Compressed on first request, not at start-up: the API docs' 1.7 MB script would
        # otherwise cost every start (and every test's app) a third of a second.
        self._gzipped: dict[str, bytes | None] = {}
        for path in sorted(directory.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            body = path.read_bytes()
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media_type.startswith("text/") or media_type == "application/javascript":
                media_type += "; charset=utf-8"
            compressible = media_type.startswith(("text/", "application/javascript", "image/svg"))
            name = path.relative_to(directory).as_posix()
            digest = hashlib.sha256(body).hexdigest()[:10]
            asset = Asset(media_type, body, compressible, digest)
            self.assets[name] = asset
            self.hashed[hashed_name(name, digest)] = asset

    def url(self, name: str) -> str:
        """The URL a page links to: the hashed name (computed once; pages ask on every render)."""
        url = self._urls.get(name)
        if url is None:
            asset = self.assets.get(name)
            url = f"/static/{hashed_name(name, asset.digest)}" if asset else f"/static/{name}"
            self._urls[name] = url
        return url

    def response(self, request: Request, name: str) -> Response:
        versioned = name in self.hashed
        asset = self.hashed.get(name) or self.assets.get(name)
        if asset is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        etag = f'"{asset.digest}"'
        headers = {
            "etag": etag,
            "vary": "Accept-Encoding",
            "cache-control": "public, max-age=31536000, immutable"
            if versioned
            else "public, max-age=3600",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        body = asset.body
        if asset.compressible and accepts_gzip(request):
            gzipped = self._gzip(asset)
            if gzipped is not None:
                body = gzipped
                headers["content-encoding"] = "gzip"
        return Response(body, media_type=asset.media_type, headers=headers)

    def _gzip(self, asset: Asset) -> bytes | None:
        if asset.digest not in self._gzipped:
            gzipped = gzip.compress(asset.body, compresslevel=9, mtime=0)
            self._gzipped[asset.digest] = gzipped if len(gzipped) < len(asset.body) else None
        return self._gzipped[asset.digest]
