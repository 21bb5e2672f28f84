"""Account recovery over the JSON API: forgotten passwords, one-time links, and the links
staff hand over to participants another way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlmodel import Session

from ecampus.accounts import links, manage, passwords
from ecampus.accounts.models import User
from ecampus.accounts.tokens import Principal
from ecampus.mail.recovery import mail_invitation, request_reset
from ecampus.settings import Settings
from ecampus.web.deps import ApiCsrf, Coordinator, SessionDep, SettingsDep, in_session
from ecampus.web.throttle import THROTTLED, PasswordResetLimit

router = APIRouter(prefix="/api/v1", tags=["accounts"])

LINK_NOT_VALID = (
    "This link no longer works: it was used already, it expired, or the account is "
    "deactivated. Ask for a new one"
)
RESET_ACCEPTED = (
    "If an active account has this email, a link to choose a new password is on its way; "
    "it works once, for 60 minutes"
)


class PasswordResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class PasswordResetConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=links.MAX_TOKEN_LENGTH)
    password: str = Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    send_mail: bool = Field(
        default=False, description="Also mail the invitation to the account, in its language."
    )


class LinkOut(BaseModel):
    email: str
    purpose: str
    url: str
    expires_at: datetime
    mailed: bool = False


def staff_of(principal: Principal) -> manage.Staff:
    return manage.Staff(id=principal.user_id, email=principal.email, role=principal.role)


MANAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Coordinators manage learner accounts only"},
    404: {"description": "No account has this email"},
    409: {
        "description": "Your own account, a deactivated one, or (invitations) one with a password"
    },
}


def managed_account(session: Session, principal: Principal, email: str) -> User:
    """The account `email`, if the caller may manage it (404, 403 or 409 otherwise)."""
    try:
        return manage.account_to_manage(session, staff=staff_of(principal), email=email)
    except manage.AccountNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No account has this email") from None
    except manage.NotYours:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Coordinators manage learner accounts only"
        ) from None
    except manage.OwnAccount:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "You cannot change access to your own account"
        ) from None


@router.post(
    "/auth/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[PasswordResetLimit],
    responses=THROTTLED,
)
def password_reset(
    body: PasswordResetIn, session: SessionDep, settings: SettingsDep
) -> dict[str, str]:
    """202 whatever the email: for an active account, a mail with a one-time link
    `{ECAMPUS_BASE_URL}/reset/{token}`, valid 60 minutes. Throttled per address."""
    request_reset(
        session, email=str(body.email), base_url=settings.base_url, site_name=settings.site_name
    )
    return {"detail": RESET_ACCEPTED}


@router.post(
    "/auth/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={400: {"description": LINK_NOT_VALID}},
)
async def password_reset_confirm(body: PasswordResetConfirmIn, request: Request) -> Response:
    """Set the password with a reset or invitation link. The link works once; every other
    link of the account, and every earlier session and token, is refused from then on."""
    found = await in_session(request, lambda db: links.find_open_link(db, body.token))
    if found is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, LINK_NOT_VALID)
    async with request.app.state.password_gate.slot():
        hashed = await run_in_threadpool(passwords.hash_password, body.password)
    redeemed = await in_session(
        request, lambda db: links.redeem(db, token=body.token, password_hash=hashed)
    )
    if redeemed is None:  # used by a request that raced this one
        raise HTTPException(status.HTTP_400_BAD_REQUEST, LINK_NOT_VALID)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _hand_over(
    session: Session,
    principal: Principal,
    email: str,
    purpose: str,
    settings: Settings,
    *,
    send_mail: bool = False,
) -> LinkOut:
    user = managed_account(session, principal, email)
    if not user.is_active:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "This account is deactivated: reactivate it first"
        )
    if purpose == links.INVITATION and manage.has_password(user):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "This account already has a password: make a password reset link instead",
        )
    if send_mail:
        url = mail_invitation(
            session,
            staff=staff_of(principal),
            user=user,
            base_url=settings.base_url,
            site_name=settings.site_name,
        )
    else:
        url = manage.hand_over_link(
            session, staff=staff_of(principal), user=user, purpose=purpose,
            base_url=settings.base_url,
        )  # fmt: skip
    return LinkOut(
        email=user.email,
        purpose=purpose,
        url=url,
        expires_at=datetime.now(UTC) + links.LIFETIMES[purpose],
        mailed=send_mail,
    )


@router.post(
    "/users/{email}/invitation",
    response_model=LinkOut,
    dependencies=[ApiCsrf],
    responses=MANAGE_ERRORS,
    tags=["coordination"],
)
def invitation_link(
    email: str,
    principal: Coordinator,
    session: SessionDep,
    settings: SettingsDep,
    body: InvitationIn | None = None,
) -> LinkOut:
    """A fresh invitation link (valid 14 days) for an account with no password yet, to hand
    over another way; with `{"send_mail": true}` it is also mailed to the account. Admin;
    coordinator for learner accounts."""
    send_mail = body.send_mail if body is not None else False
    return _hand_over(session, principal, email, links.INVITATION, settings, send_mail=send_mail)


@router.post(
    "/users/{email}/reset-link",
    response_model=LinkOut,
    dependencies=[ApiCsrf],
    responses=MANAGE_ERRORS,
    tags=["coordination"],
)
def reset_link(
    email: str, principal: Coordinator, session: SessionDep, settings: SettingsDep
) -> LinkOut:
    """A fresh password reset link (valid 60 minutes), to hand over another way; no mail is
    sent. Admin; coordinator for learner accounts."""
    return _hand_over(session, principal, email, links.RESET, settings)
