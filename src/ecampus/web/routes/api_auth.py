"""Accounts over the JSON API: register, token, me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from ecampus.accounts import service as accounts
from ecampus.accounts import tokens
from ecampus.accounts.models import User
from ecampus.accounts.schemas import RegisterIn, TokenOut, UserOut
from ecampus.settings import Settings
from ecampus.web.deps import ApiUser, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def issue_token(settings: Settings, user: User) -> TokenOut:
    token, lifetime = tokens.create_access_token(
        secret=settings.secret_key,
        user_id=user.id or 0,
        role=user.role,
        name=user.full_name,
        language=user.language,
        email=user.email,
        minutes=settings.token_minutes,
    )
    return TokenOut(access_token=token, expires_in=lifetime)


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
def register(data: RegisterIn, session: SessionDep) -> UserOut:
    """Create a learner account. Runs in a worker thread: hashing is slow on purpose."""
    try:
        user = accounts.create_user(session, data=data)
    except accounts.EmailTaken:
        raise HTTPException(status.HTTP_409_CONFLICT, "An account with this email exists") from None
    return user_out(user)


@router.post("/auth/token", response_model=TokenOut)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    """OAuth2 password flow: `username` is the email."""
    user = accounts.authenticate(session, email=form.username, password=form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return issue_token(settings, user)


@router.get("/me", response_model=UserOut)
def me(principal: ApiUser, session: SessionDep) -> UserOut:
    user = session.get(User, principal.user_id)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Account no longer exists")
    return user_out(user)
