"""Accounts over the JSON API: register, token, logout, me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from ecampus.accounts import passwords, sessions
from ecampus.accounts import service as accounts
from ecampus.accounts.models import User
from ecampus.accounts.schemas import RegisterIn, TokenOut, UserOut
from ecampus.settings import Settings
from ecampus.web import sessions as session_cookie
from ecampus.web.deps import (
    ApiCsrf,
    ApiUser,
    SessionDep,
    SettingsDep,
    check_password,
    in_session,
)
from ecampus.web.throttle import (
    MAX_EMAIL_LENGTH,
    THROTTLED,
    ApiSignIn,
    charge_address_from_thread,
    start_sign_in,
)

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def issue_token(session: Session, settings: Settings, user: User) -> TokenOut:
    """Start a sign-in session for `user` (who just proved who they are) and its token."""
    token, lifetime = session_cookie.issue(session, settings, user)
    return TokenOut(access_token=token, expires_in=lifetime)


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={**THROTTLED, 409: {"description": "An account with this email exists"}},
)
def register(data: RegisterIn, session: SessionDep, request: Request) -> UserOut:
    """Create a learner account. Runs in a worker thread: hashing is slow on purpose."""
    charge_address_from_thread(request, "registration")
    try:
        user = accounts.create_user(session, data=data)
    except accounts.EmailTaken:
        raise HTTPException(status.HTTP_409_CONFLICT, "An account with this email exists") from None
    return user_out(user)


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses={**THROTTLED, 401: {"description": "Incorrect email or password"}},
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    settings: SettingsDep,
    signin: ApiSignIn,
) -> TokenOut:
    """OAuth2 password flow: `username` is the email. The account is read, the password
    checked with no database connection held, then the session written: three short steps."""
    signin.raise_if_refused()
    user = None
    if len(form.username) <= MAX_EMAIL_LENGTH:  # no account's is longer: never parse megabytes
        user = await in_session(
            request, lambda db: accounts.find_for_sign_in(db, email=form.username)
        )
    if not await check_password(request, user, form.password) or user is None:
        await signin.failed()
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    await signin.succeeded()
    signed_in = user
    return await in_session(request, lambda db: issue_token(db, settings, signed_in))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, dependencies=[ApiCsrf])
def logout(
    principal: ApiUser, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Sign this token's session out: every process refuses it from the next request on.
    The account's other sessions (other devices) carry on."""
    sessions.end(session, user_id=principal.user_id, session_id=principal.token_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if getattr(request.state, "claims_from_cookie", False):
        session_cookie.clear_cookie(response, settings)
    return response


@router.get("/me", response_model=UserOut)
def me(principal: ApiUser, session: SessionDep) -> UserOut:
    user = session.get(User, principal.user_id)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Account no longer exists")
    return user_out(user)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=passwords.MAX_LENGTH)
    new_password: str = Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[ApiCsrf],
    responses={**THROTTLED, 400: {"description": "The current password is not correct"}},
)
async def change_password(body: PasswordChangeIn, principal: ApiUser, request: Request) -> Response:
    """A new password: the account's other sessions are signed out, this one carries on.
    Wrong current passwords count as failed sign-ins of the account (429 past the limit),
    so a stolen session cannot be used to guess the password."""
    attempt = await start_sign_in(request, principal.email)
    attempt.raise_if_refused()

    def change(db: Session) -> bool:
        user = db.get(User, principal.user_id)
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Account no longer exists")
        return sessions.change_password(
            db,
            user=user,
            current=body.current_password,
            new=body.new_password,
            keep=principal.token_id,
        )

    if not await in_session(request, change):
        await attempt.failed()
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "The current password is not correct")
    await attempt.succeeded()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
