"""For authors: what the running server loaded, what it refused, and drafts to preview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ecampus.courses.catalog import Catalogue
from ecampus.i18n import render
from ecampus.web import i18n
from ecampus.web.deps import Author, AuthorPage, CatalogueDep, TemplatesDep
from ecampus.web.pages import page_language

router = APIRouter(tags=["authoring"])


def authoring_status(catalogue: Catalogue, language: str) -> dict[str, Any]:
    """What the catalogue loaded, and its problems in the reader's language."""
    root = catalogue.root.resolve()

    def shown(path: Any) -> str:
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            return str(path)

    return {
        "generation": catalogue.generation,
        "loaded_at": catalogue.loaded_at.isoformat() if catalogue.loaded_at else None,
        "courses": [
            {
                "id": course.id,
                "title": course.title,
                "language": course.language,
                "published": course.published,
                "version": course.version,
                "items": len(course.order),
                "folder": shown(course.folder),
                "translations": list(course.translations),
                "serving_last_good_version": catalogue.serving_last_good(course.id),
                "problems": len(catalogue.sources_of(course.id)),
            }
            for course in catalogue.courses.values()
        ],
        "programmes": [
            {"id": p.id, "title": p.title, "hours": p.hours, "courses": list(p.courses)}
            for p in catalogue.programmes.values()
        ],
        "problems": [
            {
                "file": shown(p.file),
                "line": p.line,
                "column": p.column,
                "severity": p.severity,
                "message": render(p.text, language),
                "hint": p.hint.render(language) if p.hint else None,
            }
            for p in catalogue.problems
        ],
        "language": language,
    }


@router.get("/api/v1/authoring/status")
async def status_json(
    request: Request, principal: Author, catalogue: CatalogueDep, lang: str | None = None
) -> dict[str, Any]:
    """Courses as loaded (drafts too), and every validation problem with file:line:col.

    Messages and hints are in `lang` (es or en), else the Accept-Language header's choice,
    else English."""
    language = i18n.negotiate(
        lang, accept_language=request.headers.get("accept-language"), default="en"
    )
    return authoring_status(catalogue, language)


@router.get("/authoring", response_class=HTMLResponse, include_in_schema=False)
async def status_page(
    request: Request, principal: AuthorPage, catalogue: CatalogueDep, templates: TemplatesDep
) -> HTMLResponse:
    return templates.render(
        request, "authoring/status.html", authoring_status(catalogue, page_language(request))
    )
