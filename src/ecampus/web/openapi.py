"""The OpenAPI document lists the errors every operation can answer with, not only 200 and 422.

Some answers come from the app as a whole rather than from one route: the sign-in check (401),
the role check (403), a lookup by path (404), the body limit (413) and a busy database (503).
They are added here from what each operation declares (security, path parameters, a body), so
a new route is described correctly without repeating them; a route still declares its own
(409, 429...) with `responses=`. schemathesis (tests/web/test_schemathesis.py) fails on any
status the document does not list.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

_ERROR = {"$ref": "#/components/schemas/ErrorDetail"}
_ERROR_SCHEMA = {
    "title": "ErrorDetail",
    "type": "object",
    "properties": {"detail": {"title": "Detail"}},
    "required": ["detail"],
}

SIGNED_IN = {
    "401": "Not signed in, or the session has ended (logout, password change, deactivation).",
    "403": "Signed in, but this account may not do this (its role, or not enrolled).",
}
LOOKED_UP = {"404": "Nothing has this identifier (course, item, code, cohort or email)."}
WITH_BODY = {"413": "The request body is larger than the server accepts (ECAMPUS_MAX_BODY_BYTES)."}
ALWAYS = {
    "503": "The database is busy or unreachable: nothing was changed; retry after Retry-After."
}


def _add(operation: dict[str, Any], errors: dict[str, str]) -> None:
    responses = operation.setdefault("responses", {})
    for code, description in errors.items():
        responses.setdefault(
            code,
            {"description": description, "content": {"application/json": {"schema": _ERROR}}},
        )


def describe_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Add the app-wide error answers to every operation of an OpenAPI document (in place)."""
    document.setdefault("components", {}).setdefault("schemas", {})["ErrorDetail"] = _ERROR_SCHEMA
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if operation.get("security"):
                _add(operation, SIGNED_IN)
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                _add(operation, LOOKED_UP)
            if operation.get("requestBody"):
                _add(operation, WITH_BODY)
            _add(operation, ALWAYS)
    return document


def install(app: FastAPI) -> None:
    """Serve the OpenAPI document with the app-wide errors described."""
    build = app.openapi  # FastAPI's own, which keeps the document once built

    def openapi() -> dict[str, Any]:
        return describe_errors(build())  # idempotent: each error is added once

    app.openapi = openapi  # type: ignore[method-assign]
