"""Small database helpers that must work the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def dialect_insert(session: Session, table: Any) -> Any:
    """INSERT in the dialect of the session's database, which has `on_conflict_do_*`."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def upsert(
    session: Session,
    table: Table,
    *,
    values: dict[str, Any],
    conflict: list[str],
    update: dict[str, Any],
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE, in the dialect of the session's database."""
    statement = dialect_insert(session, table).values(**values)
    statement = statement.on_conflict_do_update(index_elements=conflict, set_=update)
    session.execute(statement)
