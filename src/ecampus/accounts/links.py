"""One-time account links: an invitation to set a first password (valid 14 days) or a
password reset (valid 60 minutes). No HTTP here.

The link carries a random token (`secrets`); only its SHA-256 is stored in `account_tokens`,
so a copy of the database opens no account. Redeeming a link sets the password, marks every
other link of the account used and raises the account's session_version, so every earlier
session and token is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import update
from sqlmodel import Session, select

from ecampus.accounts import sessions
from ecampus.accounts.models import AccountToken, User
from ecampus.settings import get_settings

Purpose = Literal["invitation", "reset"]
INVITATION = "invitation"
RESET = "reset"
# How long a link opens the account, by purpose.
LIFETIMES: dict[str, timedelta] = {
    INVITATION: timedelta(days=14),
    RESET: timedelta(minutes=60),
}
# 32 random bytes: 43 URL-safe characters, beyond guessing.
TOKEN_BYTES = 32
# Longer than any token we make; anything longer is not looked up at all.
MAX_TOKEN_LENGTH = 128

_tokens = AccountToken.__table__  # type: ignore[attr-defined]


def token_hash(token: str) -> str:
    """What is stored and looked up: the SHA-256 of the token, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def link_url(token: str, *, base_url: str | None = None) -> str:
    return f"{(base_url or get_settings().base_url).rstrip('/')}/reset/{token}"


def issue_link(
    session: Session,
    user: User,
    purpose: str,
    *,
    created_by: User | None = None,
    base_url: str | None = None,
) -> str:
    """A new one-time link for the account: purpose "invitation" (valid 14 days) or "reset"
    (valid 60 minutes). Adds the token row to the caller's transaction (not committed) and
    returns the full URL `{ECAMPUS_BASE_URL}/reset/{token}`; `base_url` overrides the setting
    (the app passes its own). Earlier links stay valid until used or expired; using any link
    ends every other."""
    if purpose not in LIFETIMES:
        raise ValueError(f"unknown link purpose {purpose!r}: 'invitation' or 'reset'")
    if user.id is None:
        session.flush()  # an account added in this same transaction gets its id
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = datetime.now(UTC)
    session.add(
        AccountToken(
            user_id=user.id or 0,
            purpose=purpose,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
            created_by_id=created_by.id if created_by is not None else None,
        )
    )
    return link_url(token, base_url=base_url)


@dataclass(frozen=True, slots=True)
class OpenLink:
    """A link that can still be used, and the account it opens."""

    token_id: int
    purpose: str
    expires_at: datetime
    user: User


def find_open_link(session: Session, token: str) -> OpenLink | None:
    """The unused, unexpired link of an active account that `token` names, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.exec(
        select(AccountToken, User)
        .join(User, User.id == AccountToken.user_id)  # type: ignore[arg-type]
        .where(AccountToken.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    link, user = row
    if link.used_at is not None or link.expires_at <= datetime.now(UTC) or not user.is_active:
        return None
    return OpenLink(
        token_id=link.id or 0, purpose=link.purpose, expires_at=link.expires_at, user=user
    )


def redeem(session: Session, *, token: str, password_hash: str) -> OpenLink | None:
    """Use a link once: the account gets `password_hash` (hashed by the caller, off the event
    loop), every link of the account is marked used and every session ends. Commits. None
    (nothing changed) when the link is unknown, used, expired, or its account deactivated."""
    found = find_open_link(session, token)
    if found is None:
        return None
    now = datetime.now(UTC)
    # The guarded update makes the link work once even when two requests race for it.
    claimed = session.execute(
        update(_tokens)
        .where(
            _tokens.c.id == found.token_id,
            _tokens.c.used_at.is_(None),
            _tokens.c.expires_at > now,
        )
        .values(used_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        session.rollback()
        return None
    sessions.retire_links(session, user=found.user)
    user = found.user
    user.password_hash = password_hash
    session.add(user)
    sessions.end_sessions(session, user=user)  # commits
    return found


def retire_links(session: Session, *, user: User) -> None:
    """Mark every unused link of the account used (not committed): after a password change,
    a reset, an email correction or a deactivation, no link handed out earlier opens the
    account."""
    sessions.retire_links(session, user=user)
