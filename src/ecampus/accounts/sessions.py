"""Sign-in sessions that end: started at sign-in, checked on every request, ended by
logout, a password change or reset, deactivation or deletion. No HTTP here.

A token names its session (`sid`); the session counts while it is not revoked, not past its
absolute end, made under the account's current `session_version`, and the account is
active. Everything lives in the database, so every process sees a change on its next
request. Roles, names and languages are read from the account row, never from a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, select, true, update
from sqlalchemy.sql.selectable import Join
from sqlmodel import Session

from ecampus.accounts import passwords, tokens
from ecampus.accounts.models import AccountToken, User, UserSession
from ecampus.dbfast import LoopReader, PreparedQuery

_users = User.__table__  # type: ignore[attr-defined]
_sessions = UserSession.__table__  # type: ignore[attr-defined]
_tokens = AccountToken.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Account:
    """The account behind a live session, as stored now."""

    user_id: int
    role: str
    name: str
    email: str
    language: str
    session_ends_at: datetime


USER_ID = _users.c.id  # for joining the rows of the account to a live session

# The columns and the join that make a session "live". Other queries fold them in (the
# lesson page keeps one round trip): bind `user_id`, `session_id` and `now`.
ACCOUNT_COLUMNS = (
    _users.c.id,
    _users.c.role,
    _users.c.full_name,
    _users.c.email,
    _users.c.language,
    _sessions.c.expires_at,
)


def live_session() -> Join:
    """users JOIN user_sessions, keeping only the caller's live session."""
    return _users.join(
        _sessions,
        and_(
            _sessions.c.user_id == _users.c.id,
            _sessions.c.id == bindparam("session_id"),
            _sessions.c.version == _users.c.session_version,
            _sessions.c.revoked_at.is_(None),
            _sessions.c.expires_at > bindparam("now", type_=_sessions.c.expires_at.type),
        ),
    )


def live_account_filter() -> Any:
    return and_(_users.c.id == bindparam("user_id"), _users.c.is_active == true())


def account_of(row: Sequence[Any]) -> Account:
    """An Account from the first len(ACCOUNT_COLUMNS) values of a row."""
    return Account(
        user_id=row[0],
        role=row[1],
        name=row[2],
        email=row[3],
        language=row[4],
        session_ends_at=row[5],
    )


def lookup_params(*, user_id: int, session_id: str, now: datetime | None = None) -> dict[str, Any]:
    return {"user_id": user_id, "session_id": session_id, "now": now or datetime.now(UTC)}


_LOOKUP = select(*ACCOUNT_COLUMNS).select_from(live_session()).where(live_account_filter())
_PREPARED_LOOKUP = PreparedQuery(_LOOKUP)


def lookup(db: Session | Connection | Engine, *, user_id: int, session_id: str) -> Account | None:
    """The account behind a live session, or None (one indexed query). Given the engine,
    it runs on the pool's driver connection (ecampus.dbfast): every signed-in request asks."""
    params = lookup_params(user_id=user_id, session_id=session_id)
    if isinstance(db, Engine):
        rows = _PREPARED_LOOKUP.rows(db, params)
        return account_of(rows[0]) if rows else None
    row = db.execute(_LOOKUP, params).first()
    return account_of(row) if row is not None else None


async def lookup_on_loop(reader: LoopReader, *, user_id: int, session_id: str) -> Account | None:
    """`lookup` on the event loop, with no worker thread (ecampus.dbfast.LoopReader); raises
    ReaderBusy when the caller should look up in a worker thread instead."""
    params = lookup_params(user_id=user_id, session_id=session_id)
    rows = await reader.rows(_PREPARED_LOOKUP, params)
    return account_of(rows[0]) if rows else None


def start(db: Session, *, user: User, hours: float) -> UserSession:
    """Open a session for someone who just proved who they are (commits)."""
    now = datetime.now(UTC)
    # Sessions past their end are of no use to anyone: each sign-in clears some away.
    db.execute(_sessions.delete().where(_sessions.c.expires_at < now - timedelta(days=1)))
    row = UserSession(
        id=tokens.new_session_id(),
        user_id=user.id or 0,
        version=user.session_version,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    db.add(row)
    db.commit()
    return row


def end(db: Session, *, user_id: int, session_id: str) -> bool:
    """Sign one session out (logout); its other sessions carry on. Commits."""
    result = db.execute(
        update(_sessions)
        .where(
            _sessions.c.id == session_id,
            _sessions.c.user_id == user_id,
            _sessions.c.revoked_at.is_(None),
        )
        .values(revoked_at=datetime.now(UTC))
    )
    db.commit()
    return bool(getattr(result, "rowcount", 0))


def end_sessions(db: Session, *, user: User, keep: str | None = None, commit: bool = True) -> None:
    """Sign every session of the account out at once, but `keep` (the caller's own, after a
    password change). Raising the version also refuses a sign-in that was checked against
    the old password and is still writing its session."""
    now = datetime.now(UTC)
    db.execute(
        update(_users)
        .where(_users.c.id == user.id)
        .values(session_version=_users.c.session_version + 1)
    )
    version = select(_users.c.session_version).where(_users.c.id == user.id).scalar_subquery()
    if keep is not None:
        db.execute(
            update(_sessions)
            .where(
                _sessions.c.id == keep,
                _sessions.c.user_id == user.id,
                _sessions.c.revoked_at.is_(None),
            )
            .values(version=version)
        )
    others = [_sessions.c.user_id == user.id, _sessions.c.revoked_at.is_(None)]
    if keep is not None:
        others.append(_sessions.c.id != keep)
    db.execute(update(_sessions).where(*others).values(revoked_at=now))
    if commit:
        db.commit()
    db.expire(user, ["session_version"])


def deactivate(db: Session, *, user: User) -> User:
    """The account cannot sign in, its sessions end at once, and no invitation or reset
    link handed out before opens it, even after a reactivation (commits)."""
    user.is_active = False
    db.add(user)
    retire_links(db, user=user)
    end_sessions(db, user=user)
    return user


def retire_links(db: Session, *, user: User) -> None:
    """Mark every unused invitation or reset link of the account used (not committed)."""
    db.execute(
        update(_tokens)
        .where(_tokens.c.user_id == user.id, _tokens.c.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    )


def reactivate(db: Session, *, user: User) -> User:
    """The account may sign in again; sessions ended by the deactivation stay ended."""
    user.is_active = True
    db.add(user)
    db.commit()
    return user


def set_password(db: Session, *, user: User, password: str, keep: str | None = None) -> None:
    """A new password: every other session ends (a reset keeps none), and no reset or
    invitation link handed out before opens the account any more. Commits. The slow hash
    is the caller's to keep off the event loop."""
    user.password_hash = passwords.hash_password(password)
    db.add(user)
    retire_links(db, user=user)
    end_sessions(db, user=user, keep=keep)


def change_password(
    db: Session, *, user: User, current: str, new: str, keep: str | None = None
) -> bool:
    """Change a password the person knows; False (and nothing changed) when `current` is
    wrong. Their other sessions end; `keep` (the session asking) carries on."""
    if not passwords.verify_password(current, user.password_hash):
        return False
    set_password(db, user=user, password=new, keep=keep)
    return True
