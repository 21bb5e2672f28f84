"""Images and downloadable files kept inside a course folder."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse, Response

from ecampus.courses.markdown import MEDIA_TYPES
from ecampus.web.deps import CatalogueDep, MaybeUser, visible_course

router = APIRouter(include_in_schema=False)
# Longer than any path a course folder can hold (PATH_MAX is 4096 on Linux).
MAX_NAME = 4096


@router.get("/courses/{course_id}/media/{path:path}")
async def course_media(
    course_id: str, path: str, request: Request, catalogue: CatalogueDep, principal: MaybeUser
) -> Response:
    """Only media types are served: never course.yaml (it holds the answers) or sources."""
    course = visible_course(course_id, request, catalogue, principal)
    folder = course.folder.resolve()
    missing = HTTPException(status.HTTP_404_NOT_FOUND, "No such file in this course")
    if len(path) > MAX_NAME:
        raise missing
    # The type is checked on the requested name and on the file it resolves to, so that a
    # link named x.png that points at course.yaml serves nothing.
    media_type = MEDIA_TYPES.get(Path(path).suffix.lower())
    try:
        target = (folder / path).resolve()
        found = target.is_relative_to(folder) and target.is_file()
    except (OSError, ValueError):  # a name the file system refuses (too long, NUL)
        raise missing from None
    if media_type is None or MEDIA_TYPES.get(target.suffix.lower()) != media_type or not found:
        raise missing
    headers = {"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"}
    if media_type.startswith("image/svg"):
        # An SVG opened on its own could run scripts in this site's origin.
        headers["content-security-policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; sandbox"
        )
    return FileResponse(target, media_type=media_type, headers=headers)
