"""Browser pages for getting back in: "forgot your password?", and the one-time link
(`/reset/{token}`) that sets a password, for a reset or an invitation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from ecampus.accounts import links, passwords
from ecampus.accounts.models import User
from ecampus.accounts.service import MAX_EMAIL_LENGTH
from ecampus.mail.recovery import request_reset
from ecampus.web.deps import FormCsrf, SettingsDep, TemplatesDep, in_session
from ecampus.web.routes.html_account import login_response
from ecampus.web.templating import gettext as _
from ecampus.web.throttle import Throttled, charge_address

router = APIRouter(include_in_schema=False)


@router.get("/forgot", response_class=HTMLResponse)
def forgot_page(request: Request, templates: TemplatesDep, email: str = "") -> HTMLResponse:
    return templates.render(
        request, "accounts/forgot.html", {"email": email[:MAX_EMAIL_LENGTH], "error": None}
    )


@router.post("/forgot", dependencies=[FormCsrf])
async def forgot(
    request: Request,
    settings: SettingsDep,
    templates: TemplatesDep,
    email: Annotated[str, Form(max_length=MAX_EMAIL_LENGTH)] = "",
) -> Response:
    """The same answer whether an account has this email or not."""
    email = email.strip()
    if "@" not in email:
        return templates.render(
            request,
            "accounts/forgot.html",
            {"email": email, "error": _("Enter the email address you sign in with.")},
            status_code=422,
        )
    try:
        await charge_address(request, "password_reset")
    except Throttled as refused:
        return templates.render(
            request,
            "accounts/forgot.html",
            {"email": email, "error": refused.detail},
            status_code=429,
            headers=dict(refused.headers or {}),
        )
    await in_session(
        request,
        lambda db: request_reset(
            db, email=email, base_url=settings.base_url, site_name=settings.site_name
        ),
    )
    return templates.render(request, "accounts/forgot_sent.html", {"email": email})


def _link_gone(request: Request, templates: TemplatesDep) -> HTMLResponse:
    return templates.render(request, "accounts/reset_gone.html", {}, status_code=400)


@router.get("/reset/{token}", response_class=HTMLResponse)
async def reset_page(token: str, request: Request, templates: TemplatesDep) -> HTMLResponse:
    found = await in_session(request, lambda db: links.find_open_link(db, token))
    if found is None:
        return _link_gone(request, templates)
    return templates.render(
        request,
        "accounts/reset.html",
        {"token": token, "purpose": found.purpose, "account": found.user.email, "error": None},
    )


@router.post("/reset/{token}", dependencies=[FormCsrf])
async def reset(
    token: str,
    request: Request,
    settings: SettingsDep,
    templates: TemplatesDep,
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    confirm: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
) -> Response:
    """Set the password. An invitation then signs the person in, on their courses; a reset
    sends them to sign in with the new password."""
    found = await in_session(request, lambda db: links.find_open_link(db, token))
    if found is None:
        return _link_gone(request, templates)
    error = None
    if len(password) < passwords.MIN_LENGTH:
        error = _("The password needs at least 8 characters.")
    elif password != confirm:
        error = _("The two passwords are not the same.")
    if error:
        return templates.render(
            request,
            "accounts/reset.html",
            {"token": token, "purpose": found.purpose, "account": found.user.email,
             "error": error},
            status_code=422,
        )  # fmt: skip
    async with request.app.state.password_gate.slot():
        hashed = await run_in_threadpool(passwords.hash_password, password)
    redeemed = await in_session(
        request, lambda db: links.redeem(db, token=token, password_hash=hashed)
    )
    if redeemed is None:
        return _link_gone(request, templates)
    if redeemed.purpose == links.RESET:
        return RedirectResponse("/login?reset=1", status_code=303)
    user_id = redeemed.user.id

    def sign_in(db: Session) -> Response:
        user = db.get(User, user_id)  # as the redeeming raised its session_version
        if user is None or not user.is_active:
            return RedirectResponse("/login", status_code=303)
        return login_response(db, settings, user, "/me")

    return await in_session(request, sign_in)
