"""PreparedQuery reads rows exactly as SQLAlchemy does, and fails the way SQLAlchemy fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, column, select, table, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from ecampus.accounts.models import User, UserSession
from ecampus.db import make_engine
from ecampus.dbfast import PreparedQuery

_users = User.__table__  # type: ignore[attr-defined]
_sessions = UserSession.__table__  # type: ignore[attr-defined]

QUERY = (
    select(
        _users.c.id,
        _users.c.email,
        _sessions.c.expires_at,
        (_sessions.c.revoked_at.is_(None) & _users.c.is_active).label("live"),
        _sessions.c.revoked_at,
    )
    .select_from(_users.join(_sessions, _sessions.c.user_id == _users.c.id))
    .where(_users.c.id == bindparam("user_id"), _sessions.c.expires_at > bindparam("now"))
    .order_by(_sessions.c.id)
)


def test_rows_match_sqlalchemy(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        ends = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
        with Session(engine) as session:
            user = User(email="fast@example.org", password_hash="x", full_name="Fást Páth")
            session.add(user)
            session.flush()
            assert user.id is not None
            for n, revoked in enumerate((None, ends - timedelta(days=1))):
                session.add(
                    UserSession(
                        id=f"s{n}", user_id=user.id, version=0, expires_at=ends, revoked_at=revoked
                    )
                )
            session.commit()
            user_id = user.id
        params = {"user_id": user_id, "now": datetime.now(UTC)}
        prepared = PreparedQuery(QUERY)
        with engine.connect() as connection:
            expected = [tuple(row) for row in connection.execute(QUERY, params)]
        for _ in range(2):  # the second time from the plan kept for this dialect
            rows = prepared.rows(engine, params)
            assert rows == expected
        assert rows[0][2] == ends
        assert rows[0][2].tzinfo is not None
        assert rows[0][3] is True
        assert rows[1][3] is False
        assert prepared.rows(engine, {**params, "user_id": user_id + 1}) == []
        # Bind parameters go through the column types too: an aware time in another zone.
        later = {
            **params,
            "now": ends.astimezone(ZoneInfo("America/Guatemala")),
        }
        assert prepared.rows(engine, later) == []
    finally:
        engine.dispose()


def test_driver_errors_come_out_as_sqlalchemy_errors(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        missing = select(column("x")).select_from(table("no_such_table"))
        with pytest.raises(DBAPIError):
            PreparedQuery(missing.where(column("x") == bindparam("x"))).rows(engine, {"x": 1})
        # The connection went back to the pool in a usable state.
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_no_connection_comes_out_as_a_sqlalchemy_error() -> None:
    # Nothing listens on port 1: the pool's connect fails, as in a database outage.
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nothing")
    try:
        with pytest.raises(OperationalError):
            PreparedQuery(QUERY).rows(engine, {"user_id": 1, "now": datetime.now(UTC)})
    finally:
        engine.dispose()
