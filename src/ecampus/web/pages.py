"""What every page shares: who is logged in, the language, the CSRF token; error pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from ecampus.web import i18n
from ecampus.web.deps import LANG_COOKIE, csrf_token_for, principal_of


def page_language(request: Request) -> str:
    principal = principal_of(request)
    return i18n.negotiate(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        principal.language if principal else None,
        accept_language=request.headers.get("accept-language"),
        default=request.app.state.settings.default_language,
    )


def page_context(request: Request) -> dict[str, Any]:
    cached = getattr(request.state, "page_context", None)
    if cached is not None:
        return cached
    principal = principal_of(request)
    context = {
        "request": request,
        "user": principal,
        "lang": getattr(request.state, "language", None) or page_language(request),
        "csrf_token": csrf_token_for(request),
        "path": request.url.path,
    }
    request.state.page_context = context
    return context


def error_page(request: Request, status_code: int, detail: str) -> HTMLResponse:
    templates = request.app.state.templates
    if status_code in (401, 403, 404, 405):
        # The page's heading says it in the reader's language; the detail is for the API.
        detail = ""
    try:
        return templates.render(
            request,
            "errors/error.html",
            {"status_code": status_code, "detail": detail},
            status_code=status_code,
        )
    except Exception:  # an error page must never fail in turn
        return HTMLResponse(f"<h1>{status_code}</h1>", status_code=status_code)
