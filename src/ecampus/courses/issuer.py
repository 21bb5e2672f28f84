"""Who issues certificates: `courses/issuer.yaml`, overridable per course and programme.

The resolved issuer is frozen into each certificate as JSON (`Certificate.issuer`), with
image paths relative to the courses folder, so a certificate keeps naming the institution
and signatories in force when it was issued.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ecampus.courses import schema
from ecampus.i18n import N_, Message

ISSUER_FILE = "issuer.yaml"
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}
DEFAULT_ORIENTATION = "landscape"
# Every certificate PDF and verification page carries the logo and signatures.
LARGE_IMAGE_BYTES = 200_000


@dataclass(frozen=True, slots=True)
class SignatoryContent:
    name: str
    title: dict[str, str] | str
    signature: Path | None = None  # absolute


@dataclass(frozen=True, slots=True)
class IssuerContent:
    """An issuer with its image files resolved to absolute paths."""

    name: dict[str, str]
    root: Path  # the courses folder; frozen paths are relative to it
    url: str | None = None
    logo: Path | None = None
    signatories: tuple[SignatoryContent, ...] = ()
    orientation: str = DEFAULT_ORIENTATION

    def frozen(self) -> dict[str, Any]:
        """The JSON kept on a certificate."""
        return {
            "name": dict(self.name),
            "url": self.url,
            "logo": _relative(self.logo, self.root),
            "signatories": [
                {
                    "name": s.name,
                    "title": s.title if isinstance(s.title, str) else dict(s.title),
                    "signature": _relative(s.signature, self.root),
                }
                for s in self.signatories
            ],
            "orientation": self.orientation,
        }


def _relative(path: Path | None, root: Path) -> str | None:
    if path is None:
        return None
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _signatories(items: Iterable[schema.Signatory], folder: Path) -> tuple[SignatoryContent, ...]:
    return tuple(
        SignatoryContent(
            name=s.name,
            title=s.title if isinstance(s.title, str) else dict(s.title),
            signature=(folder / s.signature).resolve() if s.signature else None,
        )
        for s in items
    )


def from_schema(issuer: schema.Issuer, *, folder: Path, root: Path) -> IssuerContent:
    """issuer.yaml (in `folder`) as content; files are relative to `folder`."""
    return IssuerContent(
        name=dict(issuer.name),
        root=root,
        url=issuer.url,
        logo=(folder / issuer.logo).resolve() if issuer.logo else None,
        signatories=_signatories(issuer.signatories or (), folder),
        orientation=issuer.orientation or DEFAULT_ORIENTATION,
    )


def resolve(
    base: IssuerContent | None,
    override: schema.IssuerOverride | None,
    *,
    folder: Path,
    root: Path,
) -> IssuerContent | None:
    """The issuer of a course or programme: the institution's, with every key the course
    or programme gives replacing the institution's (its files relative to `folder`)."""
    if override is None:
        return base
    if base is None:
        if override.name is None:
            return None  # no institution to complete a partial override
        base = IssuerContent(name=dict(override.name), root=root)
    changes: dict[str, Any] = {}
    if override.name is not None:
        changes["name"] = dict(override.name)
    if override.url is not None:
        changes["url"] = override.url
    if override.logo is not None:
        changes["logo"] = (folder / override.logo).resolve()
    if override.signatories is not None:
        changes["signatories"] = _signatories(override.signatories, folder)
    if override.orientation is not None:
        changes["orientation"] = override.orientation
    return replace(base, **changes)


def image_problems(data: Any, folder: Path) -> Iterator[tuple[tuple[str | int, ...], Message, str]]:
    """The image files an issuer mapping (raw YAML data) names that cannot be used (errors:
    missing, outside `folder`, not a PNG, JPEG or SVG image) or are heavy (a warning), with
    their path within the mapping and a severity."""
    if not isinstance(data, dict):
        return
    references: list[tuple[tuple[str | int, ...], Any]] = [(("logo",), data.get("logo"))]
    signatories = data.get("signatories")
    if isinstance(signatories, list):
        references += [
            (("signatories", index, "signature"), entry.get("signature"))
            for index, entry in enumerate(signatories)
            if isinstance(entry, dict)
        ]
    for path, name in references:
        if not isinstance(name, str) or not name.strip():
            continue
        problem = _image_problem(name, folder)
        if problem is not None:
            yield path, problem, "error"
            continue
        size = (folder / name).stat().st_size
        if size > LARGE_IMAGE_BYTES:
            yield (
                path,
                Message(
                    N_(
                        "image '%(name)s' weighs %(size)s KB: every certificate and its "
                        "verification page carry it, so keep it under %(limit)s KB"
                    ),
                    {"name": name, "size": size // 1000, "limit": LARGE_IMAGE_BYTES // 1000},
                ),
                "warning",
            )


def _image_problem(name: str, folder: Path) -> Message | None:
    target = (folder / name).resolve()
    params = {"name": name}
    if not target.is_relative_to(folder.resolve()):
        return Message(N_("image '%(name)s' is outside this file's folder"), params)
    if not target.is_file():
        return Message(N_("image '%(name)s' does not exist"), params)
    if target.suffix.lower() not in IMAGE_TYPES:
        return Message(N_("image '%(name)s' is not a PNG, JPEG or SVG file"), params)
    try:
        import imagesize  # only when a course is parsed (see courses.cache)

        width, height = imagesize.get(os.fspath(target))
    except (OSError, ValueError):
        width = height = -1
    if target.suffix.lower() == ".svg":
        readable = _looks_like_svg(target)
    else:
        readable = width > 0 and height > 0
    if not readable:
        return Message(N_("image '%(name)s' cannot be read as an image"), params)
    return None


def _looks_like_svg(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            start = handle.read(4096)
    except OSError:
        return False
    return b"<svg" in start


def localized(value: dict[str, str] | str | None, *languages: str | None) -> str:
    """Text in the first of `languages` it has (a tag's base language too), else its first."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    for language in languages:
        if not language:
            continue
        if language in value:
            return value[language]
        base = language.split("-", 1)[0]
        for tag, text in value.items():
            if tag.split("-", 1)[0] == base:
                return text
    return next(iter(value.values()), "")
