"""Writing to the audit log. Call `record` in the same transaction as the action it
describes, so that an action and its entry are committed (or rolled back) together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import Session

from ecampus.audit.models import AuditEntry


class Actor(Protocol):
    @property
    def id(self) -> int | None: ...

    @property
    def email(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Acting:
    """A staff account as the log names it, when the caller holds no `User` row (a route's
    principal: `Acting(principal.user_id, principal.email)`)."""

    id: int | None
    email: str


def record(
    session: Session,
    actor: Actor | str | None,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Adds one entry (not committed). `actor` is the staff account, or a label such as
    "cli" or "system" when no account acted; `action` is dotted, e.g. "enrolment.withdraw";
    `subject` names whom or what it was done to (an email, a cohort code, a certificate code)."""
    if actor is None or isinstance(actor, str):
        entry = AuditEntry(actor=actor or "system", action=action, subject=subject)
    else:
        entry = AuditEntry(actor_id=actor.id, actor=actor.email, action=action, subject=subject)
    entry.detail = dict(detail or {})
    session.add(entry)
    return entry
