"""Queueing mail: each message is a row of the outbox, added in the caller's transaction,
so a mail exists exactly when the action that made it is committed. The sender
(ecampus.mail.sender) delivers it later and retries until the SMTP server accepts it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from ecampus.accounts.links import LIFETIMES
from ecampus.accounts.models import User
from ecampus.i18n import N_
from ecampus.mail.models import OutboxMail
from ecampus.mail.render import mail_language, render_mail
from ecampus.settings import get_settings

PENDING = "pending"
SENT = "sent"
FAILING = "failing"
# Claimed by a sender that is talking to the SMTP server now (until next_attempt_at, when a
# sender that died meanwhile gives it up to the others).
SENDING = "sending"
STATUSES = (PENDING, SENT, FAILING)  # what operators filter by; sending counts as pending

_outbox = OutboxMail.__table__  # type: ignore[attr-defined]


def queue(
    session: Session,
    *,
    recipient: str,
    language: str,
    kind: str,
    subject: str,
    body_text: str,
    body_html: str,
) -> OutboxMail:
    """Adds a message to the outbox (not committed), due at once."""
    mail = OutboxMail(
        recipient=recipient,
        language=mail_language(language),
        kind=kind,
        subject=subject[:300],
        body_text=body_text,
        body_html=body_html,
        status=PENDING,
        next_attempt_at=datetime.now(UTC),
    )
    session.add(mail)
    return mail


def queue_invitation(
    session: Session,
    user: User,
    url: str,
    *,
    inviter_name: str | None = None,
    site_name: str | None = None,
    templates_dir: Path | None = None,
) -> OutboxMail:
    """An invitation to set a first password with `url` (from links.issue_link, purpose
    "invitation", valid 14 days), in the recipient's language. Not committed."""
    site = site_name or get_settings().site_name
    rendered = render_mail(
        "invitation",
        language=user.language,
        subject=N_("Your access to %(site)s"),
        context={
            "site": site,
            "name": user.full_name,
            "email": user.email,
            "url": url,
            "inviter": inviter_name or "",
            "days": LIFETIMES["invitation"].days,
        },
        templates_dir=templates_dir,
    )
    return queue(
        session,
        recipient=user.email,
        language=user.language,
        kind="invitation",
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
    )


def queue_password_reset(
    session: Session,
    user: User,
    url: str,
    *,
    site_name: str | None = None,
    templates_dir: Path | None = None,
) -> OutboxMail:
    """A password reset link (from links.issue_link, purpose "reset", valid 60 minutes),
    in the recipient's language. Not committed."""
    site = site_name or get_settings().site_name
    rendered = render_mail(
        "password_reset",
        language=user.language,
        subject=N_("Reset your %(site)s password"),
        context={
            "site": site,
            "name": user.full_name,
            "email": user.email,
            "url": url,
            "minutes": int(LIFETIMES["reset"].total_seconds() // 60),
        },
        templates_dir=templates_dir,
    )
    return queue(
        session,
        recipient=user.email,
        language=user.language,
        kind="password_reset",
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
    )


# --- what operators see ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    failing: int


def counts(session: Session) -> OutboxCounts:
    rows = dict(
        session.exec(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)).all()
    )
    return OutboxCounts(
        pending=int(rows.get(PENDING, 0)) + int(rows.get(SENDING, 0)),
        sent=int(rows.get(SENT, 0)),
        failing=int(rows.get(FAILING, 0)),
    )


def list_mail(
    session: Session, *, status: str | None = None, limit: int = 200, offset: int = 0
) -> list[OutboxMail]:
    """The newest messages first; unsent ones (pending, failing) by when they are due."""
    query = select(OutboxMail)
    if status == PENDING:
        query = query.where(col(OutboxMail.status).in_((PENDING, SENDING)))
    elif status in STATUSES:
        query = query.where(OutboxMail.status == status)
    if status in (PENDING, FAILING):
        query = query.order_by(col(OutboxMail.next_attempt_at), col(OutboxMail.id))
    else:
        query = query.order_by(col(OutboxMail.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def retry_now(session: Session, *, mail_id: int) -> bool:
    """Make an unsent message due at once (not committed); False when it is unknown or
    already sent."""
    result = session.execute(
        update(_outbox)
        .where(_outbox.c.id == mail_id, _outbox.c.status.in_((PENDING, FAILING)))
        .values(next_attempt_at=datetime.now(UTC))
    )
    return bool(getattr(result, "rowcount", 0))


def retry_all(session: Session) -> int:
    """Make every failing message due at once (not committed); how many."""
    result = session.execute(
        update(_outbox).where(_outbox.c.status == FAILING).values(next_attempt_at=datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)
