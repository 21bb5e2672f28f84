"""Reading the audit log: filtered by day (in the institution's time zone, as reports are),
actor, action and subject, newest first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import orjson
from sqlalchemy import Select, func, select
from sqlmodel import Session

from ecampus.audit.models import AuditEntry
from ecampus.localtime import day_bounds
from ecampus.settings import get_settings

_log = AuditEntry.__table__  # type: ignore[attr-defined]
COLUMNS = (
    ("at", "at"),
    ("actor", "actor"),
    ("action", "action"),
    ("subject", "subject"),
    ("detail", "detail"),
)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """Empty means any. `action` ending in "." matches every action it begins
    ("account." is every account action); `since` and `until` are inclusive local days."""

    since: date | None = None
    until: date | None = None
    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    zone: tzinfo | None = None  # the institution's calendar; None: ECAMPUS_TIMEZONE


def _filtered(query: Select[Any], filters: AuditFilters) -> Select[Any]:
    start, end = day_bounds(filters.since, filters.until, filters.zone or get_settings().zone)
    if start is not None:
        query = query.where(_log.c.at >= start)
    if end is not None:
        query = query.where(_log.c.at < end)
    if filters.actor:
        query = query.where(_log.c.actor == filters.actor.strip().lower())
    if filters.action:
        action = filters.action.strip()
        if action.endswith("."):
            escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(_log.c.action.like(escaped + "%", escape="\\"))
        else:
            query = query.where(_log.c.action == action)
    if filters.subject:
        query = query.where(func.lower(_log.c.subject) == filters.subject.strip().lower())
    return query


def count(session: Session, filters: AuditFilters) -> int:
    return int(session.scalar(_filtered(select(func.count()).select_from(_log), filters)) or 0)


def entries(
    session: Session, filters: AuditFilters, *, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """`{at, actor, action, subject, detail}` rows, newest first."""
    query = _filtered(select(*_columns()), filters).order_by(_log.c.at.desc(), _log.c.id.desc())
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [_row(row) for row in session.execute(query)]


def stream(session: Session, filters: AuditFilters) -> Iterator[dict[str, Any]]:
    """Every matching row, newest first, read in batches (for CSV downloads)."""
    query = _filtered(select(*_columns()), filters).order_by(_log.c.at.desc(), _log.c.id.desc())
    for row in session.execute(query.execution_options(yield_per=1000)):
        yield _row(row)


def actions(session: Session) -> list[str]:
    """The actions the log holds, for a filter's choices."""
    return list(session.scalars(select(_log.c.action).distinct().order_by(_log.c.action)))


def _columns() -> tuple[Any, ...]:
    return (_log.c.at, _log.c.actor, _log.c.action, _log.c.subject, _log.c.detail)


def _row(row: Any) -> dict[str, Any]:
    at, actor, action, subject, detail = row
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return {"at": at, "actor": actor, "action": action, "subject": subject, "detail": detail or {}}


def detail_text(detail: dict[str, Any]) -> str:
    """The detail as one line of JSON (CSV cells, the page)."""
    return orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode()


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    at: datetime = row["at"]
    return {**row, "at": at.astimezone(UTC).isoformat().replace("+00:00", "Z")}
