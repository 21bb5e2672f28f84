"""`ecampus keys generate` and `ecampus keys rotate`, run as an operator runs them."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from ecampus.audit.models import AuditEntry
from ecampus.certificates import keys
from tests.conftest import SECRET
from tests.unit.test_cli import ecampus

KID = re.compile(r"signing key ([A-Za-z0-9_-]{43})")


def test_generate_is_idempotent_and_rotate_keeps_the_old_key_published(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/keys.db"
    env = {"ECAMPUS_DATABASE_URL": url, "ECAMPUS_SECRET_KEY": SECRET, "ECAMPUS_ENV": "test"}
    assert ecampus("db", "upgrade", cwd=tmp_path, env=env).returncode == 0

    created = ecampus("keys", "generate", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    assert "created signing key" in created.stdout
    first = KID.findall(created.stdout)
    again = ecampus("keys", "generate", cwd=tmp_path, env=env)
    assert again.returncode == 0
    assert "nothing to do" in again.stdout
    assert KID.findall(again.stdout) == first

    rotated = ecampus("keys", "rotate", cwd=tmp_path, env=env)
    assert rotated.returncode == 0, rotated.stderr
    retired, new = KID.findall(rotated.stdout)
    assert [retired] == first
    assert new != retired

    engine = create_engine(url)
    with Session(engine) as session:
        assert [k["kid"] for k in keys.jwks(session)["keys"]] == [retired, new]
        current = keys.current(session)
        assert current is not None
        assert current.kid == new
        assert keys.signer(session, secret=SECRET).kid == new
        actions = list(session.exec(select(AuditEntry.action).order_by(col(AuditEntry.id))))
    engine.dispose()
    assert actions == ["signing_key.generate", "signing_key.rotate"]


def test_keys_need_a_real_secret_outside_development(tmp_path: Path) -> None:
    env = {
        "ECAMPUS_DATABASE_URL": f"sqlite:///{tmp_path}/keys.db",
        "ECAMPUS_ENV": "production",
        "ECAMPUS_SECRET_KEY": "",
    }
    refused = ecampus("keys", "generate", cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert "ECAMPUS_SECRET_KEY" in refused.stderr
    missing = ecampus("keys", cwd=tmp_path, env=env)
    assert missing.returncode == 2  # argparse: an action is required
