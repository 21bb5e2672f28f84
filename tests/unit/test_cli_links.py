"""`ecampus users reset-link` prints a fresh one-time link that sets the password: the way
back in for an admin (or anyone) when no mail arrives."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from ecampus.accounts import links, passwords
from ecampus.accounts import service as accounts
from ecampus.accounts.models import User
from ecampus.audit.models import AuditEntry
from ecampus.db import make_engine
from tests.unit.test_cli import ecampus


def test_reset_link_prints_a_link_that_opens_the_account_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    env = {"ECAMPUS_DATABASE_URL": url, "ECAMPUS_BASE_URL": "https://campus.example.org"}
    assert ecampus("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    created = ecampus("users", "create", "admin@example.org", "--role", "admin",
                      "--full-name", "Ana Admin", "--password-stdin", cwd=tmp_path, env=env,
                      stdin="a forgotten password\n")  # fmt: skip
    assert created.returncode == 0, created.stderr

    refused = ecampus(
        "users", "reset-link", "admin@example.org", "--invitation", cwd=tmp_path, env=env
    )
    assert refused.returncode == 1
    assert "already has a password" in refused.stderr
    unknown = ecampus("users", "reset-link", "nadie@example.org", cwd=tmp_path, env=env)
    assert unknown.returncode == 1

    made = ecampus("users", "reset-link", "admin@example.org", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith("https://campus.example.org/reset/")
    assert "60 minutes" in made.stderr
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as db:
            token = link.rsplit("/", 1)[1]
            assert links.redeem(
                db, token=token, password_hash=passwords.hash_password("new one 123")
            )
            assert links.redeem(db, token=token, password_hash="x") is None
            assert accounts.authenticate(db, email="admin@example.org", password="new one 123")
            entries = db.exec(select(AuditEntry)).all()
            assert [(e.actor, e.action, e.subject) for e in entries] == [
                ("cli", "account.reset_link", "admin@example.org")
            ]
            user = db.exec(select(User)).one()
            user.password_hash = passwords.NO_PASSWORD
            db.add(user)
            db.commit()
        invitation = ecampus(
            "users", "reset-link", "admin@example.org", "--invitation", cwd=tmp_path, env=env
        )
        assert invitation.returncode == 0, invitation.stderr
        assert "14 days" in invitation.stderr
    finally:
        engine.dispose()
