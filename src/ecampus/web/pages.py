"""What every page shares: who is logged in, the language, the CSRF token; error pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from ecampus.accounts import tokens
from ecampus.web import i18n
from ecampus.web.deps import LANG_COOKIE, csrf_token_for, principal_of, token_claims
from ecampus.web.reqstate import state_value


def page_language(request: Request) -> str:
    # Runs before the route (in the language middleware): the token's language hint does
    # without a database query; the account's own, once the route has read it, wins.
    principal = state_value(request, "principal")
    claims = token_claims(request)
    preferred = principal.language if principal else claims.language if claims else None
    return i18n.negotiate(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        preferred or None,
        accept_language=request.headers.get("accept-language"),
        default=request.app.state.settings.default_language,
    )


def page_context(request: Request) -> dict[str, Any]:
    cached = state_value(request, "page_context")
    if cached is not None:
        return cached
    principal = principal_of(request)
    context = {
        "request": request,
        "user": principal,
        "lang": state_value(request, "language") or page_language(request),
        "csrf_token": csrf_token_for(request),
        # Names this account's quiz drafts in the browser (see static/js/app.js).
        "draft_key": tokens.draft_key(
            secret=request.app.state.settings.secret_key, user_id=principal.user_id
        )
        if principal
        else None,
        # request.url.path without building the whole URL (host, scheme, query) for it.
        "path": request.scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C"),
    }
    request.state.page_context = context
    return context


def error_page(
    request: Request, status_code: int, detail: str, *, translated: bool = False
) -> HTMLResponse:
    """`translated`: the detail is already in the reader's language, so the page shows it."""
    templates = request.app.state.templates
    if status_code in (401, 403, 404, 405) and not translated:
        # The page's heading says it in the reader's language; the detail is for the API.
        detail = ""
    try:
        return templates.render(
            request,
            "errors/error.html",
            {"status_code": status_code, "detail": detail, "translated": translated},
            status_code=status_code,
        )
    except Exception:  # an error page must never fail in turn
        return HTMLResponse(f"<h1>{status_code}</h1>", status_code=status_code)
