"""The interactive API reference at /docs: Swagger UI served from this site's own files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ecampus.web.deps import TemplatesDep

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request, templates: TemplatesDep) -> HTMLResponse:
    """Swagger UI under the site's Content-Security-Policy (no CDN, no inline script)."""
    return templates.render(
        request,
        "api/docs.html",
        {"title": request.app.title, "openapi_url": request.app.openapi_url or "/openapi.json"},
    )
