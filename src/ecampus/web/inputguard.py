"""One check on every request's text before any route runs: no NUL, no lone surrogate.

PostgreSQL refuses NUL in text and nothing can encode a lone surrogate, so either one used
to reach the database or a response and end in a 500 (after an attempt was already counted).
Checking the path, the query, form fields and JSON bodies here, as an app-wide dependency,
covers every route, including the ones added later.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ecampus import text
from ecampus.web import pages
from ecampus.web.templating import gettext as _

# The body is read by the route anyway (and cached by Starlette).
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


class UnusableText(Exception):
    """A request carried text that no field can hold."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def is_json(content_type: str) -> bool:
    """Whether FastAPI reads a body of this type as JSON (application/json, application/*+json)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _body_values(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if (
        content_type.startswith(_MULTIPART)
        and getattr(request.scope.get("route"), "body_field", None) is None
    ):
        # A route that reads its own upload parses it with its own limits; the files' contents
        # are for whatever imports them to check (the accounts schemas refuse NUL in names).
        return None
    if content_type.startswith((_FORM, _MULTIPART)):
        # Parsed already by FastAPI for routes that declare form fields (Starlette keeps it).
        form = await request.form()
        return {key: value for key, value in form.multi_items() if isinstance(value, str)}
    if is_json(content_type):
        body = await request.body()
        if not body:
            return None
        try:
            return await request.json()
        except (ValueError, RecursionError):
            return None  # not JSON: the route's own parsing reports it
    return None


async def check_request_text(request: Request) -> None:
    """Refuse (422) a request whose path, query, form or JSON holds NUL or a lone surrogate."""
    problems = [
        *text.unusable_strings(dict(request.path_params), ("path",)),
        *(
            problem
            for key, value in request.query_params.multi_items()
            for problem in text.unusable_strings({key: value}, ("query",))
        ),
    ]
    if not problems and request.method in {"POST", "PUT", "PATCH", "DELETE"}:
        problems.extend(text.unusable_strings(await _body_values(request), ("body",)))
    if problems:
        where, why = problems[0]
        raise UnusableText(where, why)


async def _unusable_text_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UnusableText)
    field = str(exc.loc[-1]) if len(exc.loc) > 1 else str(exc.loc[0])
    if request.url.path.startswith("/api/") or request.url.path.endswith((".pdf", ".json")):
        return JSONResponse(
            {
                "detail": [
                    {"loc": list(exc.loc), "msg": f"Text {exc.message}", "type": "unusable_text"}
                ]
            },
            status_code=422,
        )
    if exc.message == text.NUL_MESSAGE:
        message = _(
            "The field “%(field)s” contains a NUL character (U+0000), which no text may hold.",
            field=field,
        )
    else:
        message = _(
            "The field “%(field)s” contains an invalid character (a lone surrogate).", field=field
        )
    return pages.error_page(request, 422, message, translated=True)


CHECK = Depends(check_request_text)


def install(app: FastAPI) -> None:
    """Answer refused text with a 422 (JSON for the API, a page in the reader's language)."""
    app.add_exception_handler(UnusableText, _unusable_text_response)
