"""A cache of the loaded catalogue on disk, so that a restart does not parse every course again.

Loading 25 courses of 40 items (YAML with positions, validation, the checks that span
fields) costs a third of a second of CPU; reading the same result back costs a few
milliseconds. The cache is one file per courses folder, used only when it matches:

- the same code: the sources of `ecampus.courses` and `ecampus.i18n`, the versions of
  ecampus, pydantic and Python;
- the same files: every file and folder under the courses folder, with its size, times
  (modification and change), inode and mode. A file changed within a few seconds of the
  load (the file system's clock may not tell two writes apart) is also compared by content,
  hashed before it was read, the way git treats "racily clean" files;
- a signature (HMAC-SHA256 under a key derived from ECAMPUS_SECRET_KEY), so a file that
  someone else wrote is never unpickled.

Anything else (no cache, another catalogue, a file that does not verify, a pickle that does
not load) is a miss: the catalogue is loaded from the files, as without the cache, and the
cache written again. A load whose issuer.yaml failed (whose result depends on the last good
issuer held in memory) is not written.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import hmac
import logging
import os
import pickle
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecampus.courses.loader import LoadResult

log = logging.getLogger(__name__)

FORMAT = b"ecampus-courses-cache-1\n"
RACY_SECONDS = 3.0  # a change this close to the scan is checked by content too
RACY_MAX_BYTES = 1_000_000  # a larger file changed that recently: the load is not cached
KEEP_FILES = 16  # cache files kept in the folder (one per courses folder), the newest


Entry = tuple[str, int, int, int, int, int]  # path, mode, size, mtime_ns, ctime_ns, inode


@dataclass(frozen=True)
class Scan:
    """What the courses folder holds now, as the cache compares it."""

    entries: tuple[Entry, ...]
    taken_ns: int  # the wall clock when the scan began

    def racy(self) -> list[str]:
        """Files changed too close to the scan for their times to tell later changes."""
        limit = self.taken_ns - int(RACY_SECONDS * 1e9)
        return [
            path
            for path, mode, _size, mtime, ctime, _ino in self.entries
            if stat.S_ISREG(mode) and max(mtime, ctime) >= limit
        ]

    def digest(self, code: bytes, root: Path) -> bytes:
        hashed = hashlib.sha256(code)
        hashed.update(os.fsencode(str(root)) + b"\0")
        for path, mode, size, mtime, ctime, ino in self.entries:
            hashed.update(os.fsencode(path) + f"\0{mode} {size} {mtime} {ctime} {ino}\n".encode())
        return hashed.digest()


def scan(root: Path) -> Scan:
    taken = time.time_ns()
    entries: list[Entry] = []
    if root.is_dir():
        for path in root.rglob("*"):
            try:
                found = path.stat()
            except OSError:
                continue
            size = found.st_size if stat.S_ISREG(found.st_mode) else 0
            entries.append(
                (str(path), found.st_mode, size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino)
            )
    return Scan(tuple(sorted(entries)), taken)


def _content_hash(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


_CODE: bytes | None = None


def code_fingerprint() -> bytes:
    """What the cached objects depend on besides the files: the loader's code and the
    libraries whose objects are pickled."""
    global _CODE
    if _CODE is None:
        import pydantic

        from ecampus import __version__

        package = Path(__file__).resolve().parent
        hashed = hashlib.sha256(FORMAT)
        hashed.update(f"{__version__} {pydantic.VERSION} {sys.version}\n".encode())
        for source in sorted([*package.glob("*.py"), package.parent / "i18n.py"]):
            with contextlib.suppress(OSError):
                hashed.update(source.name.encode() + b"\0" + source.read_bytes())
        _CODE = hashed.digest()
    return _CODE


def private_folder(path: Path) -> Path | None:
    """`path`, made if missing (mode 0700), when only this user can write in it; else None
    (what a cache folder holds is loaded back as code or objects)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = path.stat()
    except OSError as error:
        log.info("cache folder %s not usable: %s", path, error)
        return None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o022:
        log.warning("cache folder %s is not this user's alone: not used", path)
        return None
    return path


class CourseCache:
    """The loaded catalogue of one courses folder, kept in `folder` between starts."""

    def __init__(self, folder: Path, secret: str) -> None:
        self.folder = folder
        self._key = hmac.new(secret.encode(), b"ecampus course cache", hashlib.sha256).digest()

    def file_for(self, root: Path) -> Path:
        name = hashlib.sha256(os.fsencode(str(root))).hexdigest()[:16]
        return self.folder / f"courses-{name}.cache"

    def looks_current(self, root: Path, now: Scan) -> bool:
        """A guess, with no file read, that read() will find the cache of `root` current: it
        is newer than every file and folder under `root`. (A new release or secret still
        makes read() miss; only read() decides.)"""
        try:
            written = self.file_for(root).stat().st_mtime_ns
        except OSError:
            return False
        return all(max(mtime, ctime) < written for _p, _m, _s, mtime, ctime, _i in now.entries)

    def read(self, root: Path, now: Scan) -> LoadResult | None:
        """The cached load of `root` when it still holds, else None (a miss)."""
        file = self.file_for(root)
        try:
            data = file.read_bytes()
        except OSError:
            return None
        signature, body = data[len(FORMAT) : len(FORMAT) + 32], data[len(FORMAT) + 32 :]
        if not data.startswith(FORMAT) or not hmac.compare_digest(
            signature, hmac.new(self._key, body, hashlib.sha256).digest()
        ):
            log.info("course cache %s: not ours or damaged; loading the courses", file)
            return None
        try:
            header_size = int.from_bytes(body[:8], "big")
            digest, racy = pickle.loads(body[8 : 8 + header_size])  # noqa: S301 - signed above
            if digest != now.digest(code_fingerprint(), root):
                return None
            if any(_content_hash(path) != hashed for path, hashed in racy.items()):
                return None
            enabled = gc.isenabled()
            gc.disable()  # a million young objects at once: collecting them midway is waste
            try:
                result: LoadResult = pickle.loads(body[8 + header_size :])  # noqa: S301
            finally:
                if enabled:
                    gc.enable()
        except Exception:  # any pickle that does not load back is a miss, never a failure
            log.warning("course cache %s does not load; loading the courses", file, exc_info=True)
            return None
        if racy and not now.racy():
            # The files are now old enough for their times to tell any later change.
            self._write(file, digest, {}, body[8 + header_size :])
        return result

    def racy_hashes(self, before: Scan) -> dict[str, str] | None:
        """Hashes, taken before loading, of the files too recent for their times alone;
        None when one of them is too large to hash at each start (the load is not cached)."""
        hashes: dict[str, str] = {}
        for path in before.racy():
            try:
                if os.stat(path).st_size > RACY_MAX_BYTES:
                    return None
            except OSError:
                return None
            hashed = _content_hash(path)
            if hashed is None:
                return None
            hashes[path] = hashed
        return hashes

    def write(self, root: Path, before: Scan, racy: dict[str, str], result: LoadResult) -> None:
        """Keep `result`, loaded from the files as `before` found them."""
        try:
            payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # content that does not pickle is served, just not cached
            log.warning("the loaded courses cannot be cached", exc_info=True)
            return
        self._write(self.file_for(root), before.digest(code_fingerprint(), root), racy, payload)

    def _write(self, file: Path, digest: bytes, racy: dict[str, str], payload: bytes) -> None:
        header = pickle.dumps((digest, racy), protocol=pickle.HIGHEST_PROTOCOL)
        body = len(header).to_bytes(8, "big") + header + payload
        signature = hmac.new(self._key, body, hashlib.sha256).digest()
        if private_folder(self.folder) is None:
            return
        try:
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".courses-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(FORMAT + signature + body)
                os.replace(temporary, file)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as error:
            log.info("course cache not written in %s: %s", self.folder, error)
            return
        self._prune()

    def _prune(self) -> None:
        """Keep the newest few files: one per courses folder this machine serves."""
        try:
            files = sorted(
                self.folder.glob("courses-*.cache"), key=lambda f: f.stat().st_mtime, reverse=True
            )
            for old in files[KEEP_FILES:]:
                old.unlink()
        except OSError:
            pass


def fill(root: Path, folder: Path, secret: str) -> bool:
    """Load the catalogue of `root` into the cache in `folder` as a start does on a miss
    (Catalogue._read, without the catalogue's database side), unless the cache looks current
    already; `ecampus serve` runs it in a process of its own while the worker imports the
    app. Whether it loaded."""
    if folder.resolve().is_relative_to(root.resolve()):
        return False  # a cache the catalogue does not use (see Catalogue)
    cache = CourseCache(folder, secret)
    before = scan(root)
    if cache.looks_current(root, before):
        return False
    from ecampus.courses.loader import load_catalogue

    racy = cache.racy_hashes(before)
    result = load_catalogue([root])
    if racy is not None and not result.issuer_failed:
        cache.write(root, before, racy, result)
    return True
