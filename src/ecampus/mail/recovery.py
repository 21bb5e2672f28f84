"""Links by mail: a reset link to whoever holds a forgotten password's address (the answer
to the asker is the same whether an account exists or not), and a fresh invitation that
staff send again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from ecampus.accounts import links
from ecampus.accounts import service as accounts
from ecampus.accounts.manage import Staff
from ecampus.accounts.models import AccountToken, User
from ecampus.audit.service import record
from ecampus.mail.outbox import queue_invitation, queue_password_reset

# At most this many reset mails per account an hour, whoever asks: a stranger cannot fill
# someone's mailbox (the per-address limit stops one asker; this stops many).
RESETS_PER_HOUR = 3


def request_reset(
    session: Session, *, email: str, base_url: str | None = None, site_name: str | None = None
) -> bool:
    """For an active account, a reset link (60 minutes) queued to its address. Commits.
    True when a mail was queued: for logs and tests, never for the asker."""
    user = (
        accounts.get_by_email(session, email) if len(email) <= accounts.MAX_EMAIL_LENGTH else None
    )
    if user is None or not user.is_active:
        session.rollback()
        return False
    since = datetime.now(UTC) - timedelta(hours=1)
    recent = session.exec(
        select(func.count())
        .select_from(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == links.RESET,
            AccountToken.created_at >= since,
        )
    ).one()
    if recent >= RESETS_PER_HOUR:
        session.rollback()
        return False
    url = links.issue_link(session, user, links.RESET, base_url=base_url)
    queue_password_reset(session, user, url, site_name=site_name)
    session.commit()
    return True


def mail_invitation(
    session: Session,
    *,
    staff: Staff,
    user: User,
    base_url: str | None = None,
    site_name: str | None = None,
) -> str:
    """A fresh invitation link (14 days) for an account with no password yet, mailed to it
    in its language and returned for staff to see. Audit-logged; commits."""
    inviter = session.get(User, staff.id)
    url = links.issue_link(session, user, links.INVITATION, base_url=base_url, created_by=inviter)
    queue_invitation(
        session, user, url, inviter_name=inviter.full_name if inviter else None, site_name=site_name
    )
    record(session, staff, "account.invitation_mail", user.email, {"valid_minutes": 14 * 24 * 60})
    session.commit()
    return url
