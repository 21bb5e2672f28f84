"""`ecampus users deactivate|reactivate|set-role` end or change sessions at once."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from ecampus.accounts import service as accounts
from ecampus.accounts import sessions
from ecampus.db import make_engine
from tests.unit.test_cli import ecampus


def test_deactivate_reactivate_and_set_role_reach_open_sessions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    env = {"ECAMPUS_DATABASE_URL": url}
    assert ecampus("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    created = ecampus("users", "create", "ana@example.org", "--role", "coordinator",
                      "--full-name", "Ana", "--password-stdin", cwd=tmp_path, env=env,
                      stdin="a long password\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as db:
            user = accounts.get_by_email(db, "ana@example.org")
            assert user is not None
            user_id = user.id or 0
            signed_in = sessions.start(db, user=user, hours=1)

        def account() -> sessions.Account | None:
            with Session(engine) as db:
                return sessions.lookup(db, user_id=user_id, session_id=signed_in.id)

        assert account() is not None
        demoted = ecampus("users", "set-role", "ana@example.org", "learner", cwd=tmp_path, env=env)
        assert "(from their next request)" in demoted.stdout
        current = account()
        assert current is not None
        assert current.role == "learner"  # the open session has the new role, no new sign-in

        off = ecampus("users", "deactivate", "ana@example.org", cwd=tmp_path, env=env)
        assert off.returncode == 0, off.stderr
        assert "deactivated" in off.stdout
        assert account() is None
        with Session(engine) as db:
            assert (
                accounts.authenticate(db, email="ana@example.org", password="a long password")
                is None
            )

        on = ecampus("users", "reactivate", "ana@example.org", cwd=tmp_path, env=env)
        assert on.returncode == 0, on.stderr
        assert account() is None  # the sessions the deactivation ended stay ended
        with Session(engine) as db:
            assert accounts.authenticate(db, email="ana@example.org", password="a long password")
    finally:
        engine.dispose()
    missing = ecampus("users", "deactivate", "nobody@example.org", cwd=tmp_path, env=env)
    assert missing.returncode == 1
    assert "no account" in missing.stderr
