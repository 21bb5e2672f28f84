"""Browser pages for managing participants' access: find an account, hand over a fresh
invitation or reset link, deactivate or reactivate it (after a confirmation step).
Admins manage every account; coordinators, learners' accounts."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from ecampus.accounts import links, manage
from ecampus.accounts.models import User
from ecampus.accounts.tokens import Principal
from ecampus.mail.recovery import mail_invitation
from ecampus.web.deps import CoordinatorPage, FormCsrf, SessionDep, SettingsDep, TemplatesDep
from ecampus.web.templating import gettext as _

router = APIRouter(include_in_schema=False)

Access = Literal["deactivate", "reactivate"]
Purpose = Literal["invitation", "invitation-mail", "reset"]


def _staff(principal: Principal) -> manage.Staff:
    return manage.Staff(id=principal.user_id, email=principal.email, role=principal.role)


def _account(session: Session, principal: Principal, email: str) -> User:
    try:
        return manage.account_to_manage(session, staff=_staff(principal), email=email)
    except manage.AccountNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _("No account has this email.")) from None
    except manage.NotYours:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, _("Coordinators manage learner accounts only.")
        ) from None
    except manage.OwnAccount:
        raise HTTPException(
            status.HTTP_409_CONFLICT, _("You cannot change access to your own account.")
        ) from None


@router.get("/coordinator/people", response_class=HTMLResponse)
def people(
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
    q: str = "",
) -> HTMLResponse:
    q = q.strip()[:200]
    accounts = manage.manageable_accounts(session, staff=_staff(principal), query=q)
    return templates.render(
        request,
        "coordination/people.html",
        {"accounts": accounts, "q": q, "has_password": manage.has_password},
    )


def _person_page(
    request: Request,
    templates: TemplatesDep,
    user: User,
    *,
    link: dict[str, str] | None = None,
    done: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.render(
        request,
        "coordination/person.html",
        {
            "person": user,
            "has_password": manage.has_password(user),
            "link": link,
            "done": done,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/coordinator/people/{email}", response_class=HTMLResponse)
def person(
    email: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
) -> HTMLResponse:
    user = _account(session, principal, email)
    done = request.query_params.get("done")
    return _person_page(
        request, templates, user, done=done if done in ("deactivate", "reactivate") else None
    )


@router.post("/coordinator/people/{email}/link", dependencies=[FormCsrf])
def make_link(
    email: str,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    purpose: Annotated[Purpose, Form()],
) -> HTMLResponse:
    """Shows the fresh link once, to hand over another way; no mail is sent."""
    user = _account(session, principal, email)
    if not user.is_active:
        return _person_page(
            request, templates, user, status_code=409,
            error=_("This account is deactivated: reactivate it first."),
        )  # fmt: skip
    if purpose != links.RESET and manage.has_password(user):
        return _person_page(
            request, templates, user, status_code=409,
            error=_("This account already has a password: make a password reset link instead."),
        )  # fmt: skip
    if purpose == "invitation-mail":
        url = mail_invitation(
            session,
            staff=_staff(principal),
            user=user,
            base_url=settings.base_url,
            site_name=settings.site_name,
        )
        mailed = {"purpose": links.INVITATION, "url": url, "mailed": "1"}
        return _person_page(request, templates, user, link=mailed)
    url = manage.hand_over_link(
        session, staff=_staff(principal), user=user, purpose=purpose, base_url=settings.base_url
    )
    return _person_page(request, templates, user, link={"purpose": purpose, "url": url})


@router.get("/coordinator/people/{email}/{action}", response_class=HTMLResponse)
def confirm_access(
    email: str,
    action: Access,
    request: Request,
    principal: CoordinatorPage,
    session: SessionDep,
    templates: TemplatesDep,
) -> HTMLResponse:
    """The confirmation step: what will happen, and a form to do it."""
    user = _account(session, principal, email)
    return templates.render(
        request, "coordination/person_access.html", {"person": user, "action": action}
    )


@router.post("/coordinator/people/{email}/{action}", dependencies=[FormCsrf])
def change_access(
    email: str,
    action: Access,
    principal: CoordinatorPage,
    session: SessionDep,
) -> Response:
    user = _account(session, principal, email)
    if action == "deactivate":
        if user.is_active:
            manage.deactivate(session, staff=_staff(principal), user=user)
    elif not user.is_active:
        manage.reactivate(session, staff=_staff(principal), user=user)
    target = f"/coordinator/people/{quote(user.email, safe='@')}?done={action}"
    return RedirectResponse(target, status_code=303)
