"""Browser pages for accounts: login, logout, registration, profile, language."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from ecampus import countries
from ecampus.accounts import passwords, sessions
from ecampus.accounts import service as accounts
from ecampus.accounts.models import InstitutionType, User
from ecampus.accounts.schemas import LANGUAGES, RegisterIn
from ecampus.settings import Settings
from ecampus.web import i18n
from ecampus.web import sessions as session_cookie
from ecampus.web.deps import (
    LANG_COOKIE,
    FormCsrf,
    MaybeUser,
    PageUser,
    SessionDep,
    SettingsDep,
    TemplatesDep,
    check_password,
    in_session,
    token_claims,
)
from ecampus.web.pages import page_language
from ecampus.web.templating import gettext as _
from ecampus.web.throttle import PageSignIn, charge_address, start_sign_in

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only ever redirect within this site."""
    if not target:
        return default
    # Browsers read a backslash as a slash and drop tabs and newlines, so "/\\evil.example"
    # and "/\t/evil.example" would leave the site as "//evil.example" does.
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def login_response(session: Session, settings: Settings, user: User, target: str) -> Response:
    """Start a session for `user` and send its cookie (blocking: it writes the session)."""
    token, lifetime = session_cookie.issue(session, settings, user)
    response = RedirectResponse(target, status_code=303)
    session_cookie.set_cookie(response, settings, token, lifetime)
    response.set_cookie(LANG_COOKIE, user.language, max_age=60 * 60 * 24 * 365, samesite="lax")
    return response


def form_choices(language: str) -> dict[str, Any]:
    return {
        "countries": countries.choices(language),
        "institution_types": [t.value for t in InstitutionType],
        "languages": LANGUAGES,
    }


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, templates: TemplatesDep, next: str = "/") -> HTMLResponse:
    return templates.render(
        request,
        "accounts/login.html",
        {"next": safe_next(next), "error": None, "reset": request.query_params.get("reset") == "1"},
    )


@router.post("/login", dependencies=[FormCsrf])
async def login(
    request: Request,
    settings: SettingsDep,
    templates: TemplatesDep,
    signin: PageSignIn,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """The account is read, the password checked with no database connection held, then the
    session written (see the API's token route)."""
    if signin.refused is not None:
        return templates.render(
            request,
            "accounts/login.html",
            {"next": safe_next(next), "error": signin.refused.detail, "email": email},
            status_code=signin.refused.status_code,
            headers=dict(signin.refused.headers or {}),
        )
    user = None
    if email:
        user = await in_session(request, lambda db: accounts.find_for_sign_in(db, email=email))
    if not email or not await check_password(request, user, password) or user is None:
        if email:
            await signin.failed()
        return templates.render(
            request,
            "accounts/login.html",
            {"next": safe_next(next), "error": _("Incorrect email or password."), "email": email},
            status_code=400,
        )
    signed_in = user
    target = safe_next(next)
    response = await in_session(request, lambda db: login_response(db, settings, signed_in, target))
    await signin.succeeded(response)
    return response


@router.post("/logout", dependencies=[FormCsrf])
def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """End this browser's session for good (not only its cookie), and what it kept."""
    claims = token_claims(request)
    if claims is not None:
        sessions.end(session, user_id=claims.user_id, session_id=claims.session_id)
    response = RedirectResponse("/", status_code=303)
    session_cookie.clear_cookie(response, settings)
    # Quiz drafts and anything else this site kept in the browser (app.js also clears the
    # drafts itself, for browsers that ignore this header over plain HTTP).
    response.headers["Clear-Site-Data"] = '"storage"'
    return response


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, templates: TemplatesDep, next: str = "/me") -> HTMLResponse:
    return templates.render(
        request,
        "accounts/register.html",
        {
            "next": safe_next(next),
            "errors": {},
            "values": {},
            **form_choices(page_language(request)),
        },
    )


def _field_message(field: str) -> str | None:
    """What to tell a person about a field, in their language (pydantic speaks English)."""
    messages = {
        "email": _("Enter a valid email address, for example nombre@institucion.gob.gt."),
        "password": _("The password needs at least 8 characters."),
        "full_name": _("Enter your full name as it should appear on your certificates."),
        "institution": _("The name of the institution is too long (200 characters at most)."),
        "institution_type": _("Choose a type of institution from the list."),
        "country": _("Choose your country from the list."),
        "language": _("Choose Spanish or English."),
    }
    return messages.get(field)


def _field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        message = _field_message(field) or str(error["msg"]).removeprefix("Value error, ")
        errors.setdefault(field, message)
    return errors


@router.post("/register", dependencies=[FormCsrf])
async def register(
    request: Request, session: SessionDep, settings: SettingsDep, templates: TemplatesDep
) -> Response:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if k not in {"password", "csrf_token"}}
    language = page_language(request)
    try:
        data = RegisterIn.model_validate(
            {
                "email": values.get("email", ""),
                "password": str(form.get("password", "")),
                "full_name": values.get("full_name", ""),
                "institution": values.get("institution", ""),
                "institution_type": values.get("institution_type") or "other",
                "country": values.get("country", ""),
                "language": values.get("language") or language,
            }
        )
    except ValidationError as exc:
        return templates.render(
            request,
            "accounts/register.html",
            {"next": safe_next(values.get("next")), "errors": _field_errors(exc), "values": values,
             **form_choices(language)},
            status_code=422,
        )  # fmt: skip
    await charge_address(request, "registration")
    try:
        user = await run_in_threadpool(accounts.create_user, session, data=data)
    except accounts.EmailTaken:
        return templates.render(
            request,
            "accounts/register.html",
            {"next": safe_next(values.get("next")),
             "errors": {"email": _("An account with this email already exists.")},
             "values": values, **form_choices(language)},
            status_code=409,
        )  # fmt: skip
    target = safe_next(values.get("next"), "/me")
    return await run_in_threadpool(login_response, session, settings, user, target)


@router.get("/profile", response_class=HTMLResponse)
def profile_page(
    request: Request, principal: PageUser, session: SessionDep, templates: TemplatesDep
) -> HTMLResponse:
    user = session.get(User, principal.user_id)
    values = user.model_dump() if user else {}
    return templates.render(
        request,
        "accounts/profile.html",
        {
            "values": values,
            "errors": {},
            "saved": request.query_params.get("saved") == "1",
            "password_changed": request.query_params.get("password") == "changed",
            "password_errors": {},
            **form_choices(page_language(request)),
        },
    )


@router.post("/profile", dependencies=[FormCsrf])
async def save_profile(
    request: Request,
    principal: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
) -> Response:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    user = session.get(User, principal.user_id)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    try:
        # The same rules as registration, without the password and email.
        checked = RegisterIn.model_validate(
            {
                "email": user.email,
                "password": "x" * 8,
                "full_name": values.get("full_name", ""),
                "institution": values.get("institution", ""),
                "institution_type": values.get("institution_type") or "other",
                "country": values.get("country", ""),
                "language": values.get("language") or "es",
            }
        )
    except ValidationError as exc:
        return templates.render(
            request,
            "accounts/profile.html",
            {
                "values": {**user.model_dump(), **values},
                "errors": _field_errors(exc),
                "saved": False,
                **form_choices(page_language(request)),
            },
            status_code=422,
        )
    user = accounts.update_profile(
        session,
        user=user,
        full_name=checked.full_name,
        institution=checked.institution,
        institution_type=checked.institution_type.value,
        country=checked.country,
        language=checked.language,
    )
    # Pages read the name and language from the account; the cookie keeps the language
    # for pages seen before the account is read.
    response = RedirectResponse("/profile?saved=1", status_code=303)
    response.set_cookie(LANG_COOKIE, user.language, max_age=60 * 60 * 24 * 365, samesite="lax")
    return response


@router.post("/profile/password", dependencies=[FormCsrf])
async def change_password(
    request: Request,
    principal: PageUser,
    templates: TemplatesDep,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
    confirm_password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """A new password: every other session of the account is signed out, this one stays.
    Wrong current passwords count as failed sign-ins of the account, as in the API."""
    errors: dict[str, str] = {}
    if len(new_password) < passwords.MIN_LENGTH:
        errors["new_password"] = _("The password needs at least 8 characters.")
    elif new_password != confirm_password:
        errors["confirm_password"] = _("The two passwords are not the same.")
    status_code, headers = 422, {}
    if not errors:
        attempt = await start_sign_in(request, principal.email)
        if attempt.refused is not None:
            errors["current_password"] = str(attempt.refused.detail)
            status_code, headers = 429, dict(attempt.refused.headers or {})
        else:

            def change(db: Session) -> bool:
                user = db.get(User, principal.user_id)
                return user is not None and sessions.change_password(
                    db, user=user, current=current_password, new=new_password,
                    keep=principal.token_id,
                )  # fmt: skip

            async with request.app.state.password_gate.slot():
                changed = await in_session(request, change)
            if changed:
                await attempt.succeeded()
                return RedirectResponse("/profile?password=changed", status_code=303)
            await attempt.failed()
            errors["current_password"] = _("The current password is not correct.")
            status_code = 400

    def page(db: Session) -> Response:
        user = db.get(User, principal.user_id)
        return templates.render(
            request,
            "accounts/profile.html",
            {
                "values": user.model_dump() if user else {},
                "errors": {},
                "saved": False,
                "password_changed": False,
                "password_errors": errors,
                **form_choices(page_language(request)),
            },
            status_code=status_code,
            headers=headers,
        )

    return await in_session(request, page)


@router.get("/lang/{code}")
def switch_language(code: str, principal: MaybeUser, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in i18n.SUPPORTED:
        response.set_cookie(LANG_COOKIE, code, max_age=60 * 60 * 24 * 365, samesite="lax")
    return response
