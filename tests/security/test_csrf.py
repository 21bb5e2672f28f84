"""Every unsafe request a browser's cookie authenticates needs the page's CSRF token.

Generated from the app's routes: each POST/PUT/PATCH/DELETE is sent with the session cookie of
a caller the authorisation matrix lets through, with a realistic body, and with the CSRF token
missing, wrong, or belonging to another session, in the header and in the form field. Each
gets 403, and nothing changes. A new unsafe route without the CSRF dependency fails here.
"""

from __future__ import annotations

from typing import Any

from ecampus.web.sessions import SESSION_COOKIE
from tests.security.test_authorization_matrix import LOGIN, entry_for, path_values
from tests.security.world import UNSAFE, Caller, World, app_routes, fill, send

# Unsafe routes that a session cookie does not authenticate, and why no CSRF token is needed.
# Each must also never start a session in the browser (checked below).
NOT_COOKIE_AUTHENTICATED = {
    ("POST", "/api/v1/auth/register"): "creates an account and answers JSON; signs nobody in",
    ("POST", "/api/v1/auth/token"): "answers a bearer token as JSON; sets no cookie",
    # A cross-site form cannot send JSON; the pages (/forgot, /reset/{token}) need the token.
    ("POST", "/api/v1/auth/password-reset"): "mails the address's owner only, throttled; JSON",
    ("POST", "/api/v1/auth/password-reset/confirm"): "needs the mailed link; signs nobody in",
}
PREFERENCE = ("learner", "admin", "coordinator", "author", "other")


def allowed_caller(method: str, path: str) -> str:
    """A signed-in caller the matrix lets through, so a 403 can only be the CSRF check."""
    entry = entry_for(method, path)
    assert entry is not None, f"{method} {path} is not in the authorisation matrix"
    for caller in PREFERENCE:
        expected = entry.expect[caller]
        if expected not in (401, 403, LOGIN):
            return caller
    raise AssertionError(f"nobody signed in may call {method} {path}")


def as_cookie(caller: Caller) -> Caller:
    """The same session, but as a browser holds it: a cookie, never a bearer header."""
    return Caller(name=caller.name, email=caller.email, token=caller.token, csrf=caller.csrf)


def cookie_request(
    world: World, method: str, url: str, caller: Caller, token: str | None, body: dict[str, Any]
) -> Any:
    headers = {"Cookie": f"{SESSION_COOKIE}={caller.token}"}
    if token is not None:
        headers["X-CSRF-Token"] = token
    try:
        return world.client.request(method, url, headers=headers, **body)
    finally:
        world.client.cookies.clear()


def body_for(
    world: World, method: str, path: str, caller: Caller, *, form_token: str | None
) -> dict[str, Any]:
    entry = entry_for(method, path)
    assert entry is not None
    request = entry.request
    if request.json:
        return {"json": request.json(world, caller)}
    form = dict(request.form(world, caller)) if request.form else {}
    if form_token is not None:
        form["csrf_token"] = form_token
    return {"data": form} if form else {}


def url_for(world: World, method: str, path: str) -> str:
    entry = entry_for(method, path)
    assert entry is not None
    return fill(path, path_values(world, entry.request.params))


def test_unsafe_cookie_requests_need_the_csrf_token(world: World) -> None:
    unsafe = [(m, p) for m, p in app_routes(world.client.app) if m in UNSAFE]
    assert len(unsafe) >= 20
    other_token = world.callers["other"].csrf
    problems = []
    for method, path in unsafe:
        if (method, path) in NOT_COOKIE_AUTHENTICATED:
            continue
        name = allowed_caller(method, path)
        caller = as_cookie(world.callers[name])
        url = url_for(world, method, path)
        forged = "0" * len(caller.csrf)
        for label, header, field in (
            ("no token", None, None),
            ("a wrong header token", forged, None),
            ("another session's header token", other_token, None),
            ("a wrong form token", None, forged),
            ("another session's form token", None, other_token),
            ("an empty header token", "", None),
        ):
            body = body_for(world, method, path, caller, form_token=field)
            if field is not None and "data" not in body:
                continue  # a JSON route has no form to carry the field
            response = cookie_request(world, method, url, caller, header, body)
            # The API says why; a page says it in the reader's language.
            said = "CSRF" in response.text or not url.startswith("/api/")
            if response.status_code != 403 or not said:
                problems.append(f"{method} {url} as {name} with {label}: {response.status_code}")
    assert not problems, "\n".join(problems)
    # Nothing was done: every session still works (no logout, no password change) and the
    # victim's account is still active.
    for name, caller in world.callers.items():
        if caller.token:
            assert send(world, "GET", "/api/v1/me", caller).status_code == 200, name
    users = send(world, "GET", "/api/v1/users", world.callers["admin"]).json()
    assert {u["email"]: u["is_active"] for u in users}[world.victim.email] is True
    signed_out_forms_need_the_pre_login_token(world)
    routes_without_csrf_start_no_browser_session(world)


def signed_out_forms_need_the_pre_login_token(world: World) -> None:
    """Login CSRF: signing in, registering and logging out from another site's form fail
    without the token this site's page gave the browser."""
    for method, path in app_routes(world.client.app):
        if method not in UNSAFE or path.startswith("/api/"):
            continue
        url = url_for(world, method, path)
        anonymous = world.callers["anonymous"]
        body = body_for(world, method, path, anonymous, form_token=None)
        response = send(world, method, url, anonymous, csrf=False, **body)
        assert response.status_code == 403, (method, url, response.status_code)
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def routes_without_csrf_start_no_browser_session(world: World) -> None:
    """What a cross-site form could make of the routes that need no token: nothing that
    signs the browser in."""
    for (method, path), _why in NOT_COOKIE_AUTHENTICATED.items():
        caller = as_cookie(world.callers["learner"])
        body = body_for(world, method, path, caller, form_token=None)
        response = cookie_request(world, method, url_for(world, method, path), caller, None, body)
        entry = entry_for(method, path)
        assert entry is not None
        # What the matrix says the learner gets (a link that is not one: 400).
        assert response.status_code == entry.expect["learner"], (path, response.text)
        assert SESSION_COOKIE not in response.headers.get("set-cookie", ""), path
