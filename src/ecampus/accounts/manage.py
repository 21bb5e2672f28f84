"""What staff do to other people's accounts: hand over a fresh invitation or reset link,
deactivate and reactivate. Each action is written to the audit log in its own transaction.
No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, or_, select

from ecampus.accounts import links, passwords, sessions
from ecampus.accounts import service as accounts
from ecampus.accounts.models import Role, User
from ecampus.audit.service import record


@dataclass(frozen=True, slots=True)
class Staff:
    """The coordinator or admin acting (what the audit log records of them)."""

    id: int
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin.value


class AccountNotFound(LookupError):
    pass


class NotYours(PermissionError):
    """Coordinators manage learner accounts only."""


class OwnAccount(PermissionError):
    """Nobody changes access to their own account here."""


def may_manage(staff: Staff, user: User) -> bool:
    """Admins manage every account; coordinators, learners' accounts only."""
    return staff.is_admin or (
        staff.role == Role.coordinator.value and user.role == Role.learner.value
    )


def account_to_manage(session: Session, *, staff: Staff, email: str) -> User:
    user = accounts.get_by_email(session, email)
    if user is None:
        raise AccountNotFound(email)
    if not may_manage(staff, user):
        raise NotYours(email)
    if user.id == staff.id:
        raise OwnAccount(email)
    return user


def manageable_accounts(
    session: Session, *, staff: Staff, query: str = "", limit: int = 100
) -> list[User]:
    """The accounts this person may manage, matching `query` (in the email or the name),
    in order of email."""
    statement = select(User)
    if not staff.is_admin:
        statement = statement.where(User.role == Role.learner.value)
    text = query.strip().lower()
    if text:
        pattern = f"%{text.replace('%', '').replace('_', '')}%"
        statement = statement.where(
            or_(col(User.email).like(pattern), col(User.full_name).ilike(pattern))
        )
    return list(session.exec(statement.order_by(col(User.email)).limit(limit)))


def has_password(user: User) -> bool:
    """False for an invited account whose holder has not set a password yet."""
    return passwords.has_password(user.password_hash)


def hand_over_link(
    session: Session, *, staff: Staff, user: User, purpose: str, base_url: str | None = None
) -> str:
    """A fresh invitation or reset link for staff to hand over another way (no mail is
    sent). Audit-logged; commits. Returns the URL."""
    url = links.issue_link(
        session, user, purpose, base_url=base_url, created_by=_creator(session, staff)
    )
    action = "account.invitation_link" if purpose == links.INVITATION else "account.reset_link"
    expires = links.LIFETIMES[purpose]
    record(
        session, staff, action, user.email, {"valid_minutes": int(expires.total_seconds() // 60)}
    )
    session.commit()
    return url


def _creator(session: Session, staff: Staff) -> User | None:
    return session.get(User, staff.id)


def deactivate(session: Session, *, staff: Staff | str, user: User) -> User:
    """The account cannot sign in, its sessions end at once and its open links stop
    working. Audit-logged; commits."""
    record(session, staff, "account.deactivate", user.email, {"role": user.role})
    return sessions.deactivate(session, user=user)


def reactivate(session: Session, *, staff: Staff | str, user: User) -> User:
    """The account may sign in again (its ended sessions stay ended). Audit-logged; commits."""
    record(session, staff, "account.reactivate", user.email, {"role": user.role})
    return sessions.reactivate(session, user=user)
