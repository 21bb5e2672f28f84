"""`ecampus backup` and `ecampus restore`: a copy taken while the app serves comes back whole.

Data is made through the app as learners and a coordinator make it, backed up, restored into
a fresh database, and every table compared row by row, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from ecampus import backup as backups
from ecampus import dbmigrate
from ecampus.accounts.models import Role, User
from ecampus.app import create_app
from ecampus.cli import main
from ecampus.db import make_engine, metadata
from ecampus.learning.models import Enrollment
from tests import factories
from tests.conftest import fresh_postgres_database, make_settings

COURSE = "demo-course"
LESSONS = ("leccion-1", "leccion-2", "leccion-3")
QUIZ = "quiz-1"


def make_data(client: TestClient) -> dict[str, Any]:
    """Accounts, a cohort, enrolments, lessons done, attempts failed and passed, certificates."""
    coordinator = factories.staff(client, Role.coordinator)
    cohort = client.post(
        "/api/v1/cohorts", headers=coordinator, json={"code": "respaldo-2026", "name": "Respaldo"}
    )
    assert cohort.status_code == 201, cohort.text
    finisher, finisher_auth = factories.learner(client, full_name="Ana Lucía Pérez Ñandú")
    halfway, halfway_auth = factories.learner(client, country="SV")
    enrolled = client.post(
        "/api/v1/cohorts/respaldo-2026/enrollments",
        headers=coordinator,
        json={"emails": [halfway["email"]], "course": COURSE},
    )
    assert enrolled.json()["enrolled"] == [halfway["email"]], enrolled.text
    for auth in (finisher_auth, halfway_auth):
        assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    attempts = f"/api/v1/courses/{COURSE}/items/{QUIZ}/attempts"
    wrong = {"answers": factories.wrong_answers(client, COURSE, QUIZ)}
    right = {"answers": factories.answer_key(client, COURSE, QUIZ)}
    assert client.post(attempts, headers=halfway_auth, json=wrong).json()["passed"] is False
    assert client.post(attempts, headers=finisher_auth, json=wrong).json()["passed"] is False
    for lesson in LESSONS:
        done = client.post(
            f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=finisher_auth
        )
        assert done.status_code == 200, done.text
    client.post(f"/api/v1/courses/{COURSE}/items/{LESSONS[0]}/complete", headers=halfway_auth)
    passed = client.post(attempts, headers=finisher_auth, json=right).json()
    assert passed["progress"]["status"] == "completed", passed
    code = passed["progress"]["certificate"]
    assert code
    return {"finisher": finisher, "certificate": code}


def table_rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table ecampus has, and Alembic's, in primary-key order."""
    engine = make_engine(database_url, pool_size=1)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                query = select(table).order_by(*table.primary_key.columns)
                rows[table.name] = [tuple(row) for row in connection.execute(query)]
            rows["alembic_version"] = [
                tuple(row) for row in connection.execute(text("SELECT * FROM alembic_version"))
            ]
    finally:
        engine.dispose()
    return rows


@contextlib.contextmanager
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database of the same kind, apart from the one under test."""
    if database_url.startswith("sqlite"):
        target = tmp_path / "restored.db"
        dbmigrate.upgrade(f"sqlite:///{target}")
        yield f"sqlite:///{target}"
    else:
        with fresh_postgres_database() as url:
            yield url


def run_cli(monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str) -> int:
    monkeypatch.setenv("ECAMPUS_DATABASE_URL", database_url)
    return main(list(args))


def test_backup_then_restore_into_a_fresh_database_copies_every_table(
    client: TestClient,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = make_data(client)
    original = table_rows(database_url)
    used = {name for name, rows in original.items() if rows}
    assert {"users", "user_sessions", "cohorts", "enrollments", "item_progress", "attempts",
            "certificates", "course_versions", "alembic_version"} <= used  # fmt: skip

    # The app is still serving (its pool holds connections) while the copy is taken.
    assert run_cli(monkeypatch, database_url, "backup", str(tmp_path)) == 0
    written = capsys.readouterr().out
    [copy] = [p for p in tmp_path.glob("ecampus-*") if p.is_file()]
    assert f"backed up the database to {copy}" in written
    assert copy.stat().st_mode & 0o077 == 0, "a backup holds password hashes: owner only"

    with fresh_database(database_url, tmp_path) as target:
        assert run_cli(monkeypatch, target, "restore", str(copy)) == 0
        assert "restored" in capsys.readouterr().out
        restored = table_rows(target)
        for table in original:
            assert restored[table] == original[table], table

        # The restored database serves: the learner signs in and the certificate verifies.
        settings = make_settings(target, client.app.state.settings.courses_dir)  # type: ignore[attr-defined]
        with TestClient(create_app(settings)) as restored_client:
            auth = factories.token(
                restored_client, made["finisher"]["email"], "correct horse battery"
            )
            mine = restored_client.get("/api/v1/me/courses", headers=auth).json()
            assert [(r["status"], r["certificate"]) for r in mine] == [
                ("completed", made["certificate"])
            ]
            assert restored_client.get(f"/verify/{made['certificate']}").status_code == 200
            # New rows continue the ids after the restored ones (no id is handed out twice).
            newcomer, _auth = factories.learner(restored_client)
            with Session(restored_client.app.state.engine) as session:  # type: ignore[attr-defined]
                new_id = session.scalars(
                    select(User.id).where(User.email == newcomer["email"])
                ).one()
            assert new_id > max(row[0] for row in original["users"])


def test_restore_refuses_a_database_in_use_unless_forced(
    client: TestClient,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_data(client)
    copy = tmp_path / "copy.bak"
    assert run_cli(monkeypatch, database_url, "backup", str(copy)) == 0
    before = table_rows(database_url)
    factories.learner(client, email="after-the-backup@example.org")
    capsys.readouterr()

    assert run_cli(monkeypatch, database_url, "restore", str(copy)) == 1
    error = capsys.readouterr().err
    assert "already holds data (" in error
    assert "users" in error
    assert "--force" in error
    assert len(table_rows(database_url)["users"]) == len(before["users"]) + 1

    client.app.state.engine.dispose()  # type: ignore[attr-defined]
    assert run_cli(monkeypatch, database_url, "restore", "--force", str(copy)) == 0
    assert table_rows(database_url) == before


def test_a_backup_taken_while_the_app_writes_is_one_consistent_snapshot(
    database_url: str, tmp_path: Path
) -> None:
    """A writer adds an account and its enrolment in one transaction, without pause; each
    backup holds both or neither, and passes SQLite's integrity check."""
    engine = make_engine(database_url)
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def write() -> None:
        n = 0
        deadline = time.monotonic() + 60
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                n += 1
                with Session(engine) as session:
                    user = User(
                        email=f"writer{n}@example.org", password_hash="x", full_name=f"Writer {n}"
                    )
                    session.add(user)
                    session.flush()
                    assert user.id is not None
                    session.add(Enrollment(user_id=user.id, course_id=COURSE))
                    session.commit()
                written.append(n)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    copies = []
    try:
        for index in range(4):
            while len(written) < 20 * (index + 1) and writer.is_alive():
                time.sleep(0.01)
            copies.append(backups.backup(database_url=database_url, path=tmp_path / f"{index}.bak"))
    finally:
        stop.set()
        writer.join(timeout=30)
        engine.dispose()
    assert not errors, errors
    assert not writer.is_alive()

    counts = []
    for copy in copies:
        with restored(database_url, copy) as (url, integrity):
            assert integrity == ["ok"]
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.connect() as connection:
                users = connection.execute(
                    text("SELECT count(*) FROM users WHERE email LIKE 'writer%'")
                ).scalar_one()
                orphans = connection.execute(
                    text(
                        "SELECT count(*) FROM users u WHERE email LIKE 'writer%' AND NOT EXISTS "
                        "(SELECT 1 FROM enrollments e WHERE e.user_id = u.id)"
                    )
                ).scalar_one()
                enrolments = connection.execute(
                    text("SELECT count(*) FROM enrollments")
                ).scalar_one()
                names = connection.execute(
                    text("SELECT full_name FROM users WHERE email LIKE 'writer%'")
                ).scalars()
                last = max((int(name.removeprefix("Writer ")) for name in names), default=0)
            engine.dispose()
            assert orphans == 0
            assert enrolments == users
            # Commits in order, so a snapshot holds the first N and nothing after a gap.
            assert last == users
            counts.append(users)
    # The writer kept writing between the copies, so each copy caught it mid-stream.
    assert counts == sorted(counts)
    assert counts[0] >= 20
    assert counts[-1] > counts[0]


@contextlib.contextmanager
def restored(database_url: str, copy: Path) -> Iterator[tuple[str, list[str]]]:
    """The backup as a database to query, with SQLite's integrity check of the file itself."""
    if database_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(copy)) as connection:
            integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        yield f"sqlite:///{copy}", integrity
    else:
        with fresh_postgres_database() as url:
            backups.restore(database_url=url, path=copy)
            yield url, ["ok"]


def fake_pg_tool(folder: Path, name: str) -> Path:
    """A stand-in for pg_dump/pg_restore that records its arguments and PG* environment."""
    folder.mkdir(exist_ok=True)
    tool = folder / name
    record = folder / f"{name}.log"
    tool.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{record}"\n'
        f'env | grep "^PG" | sort >> "{record}"\n'
        'for arg in "$@"; do case "$arg" in --file=*) printf "PGDMP" > "${arg#--file=}";; esac; done\n'
    )
    tool.chmod(0o755)
    return record


def test_pg_dump_gets_the_password_through_the_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = fake_pg_tool(tmp_path / "bin", "pg_dump")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("PGPASSWORD", "inherited-and-replaced")
    url = "postgresql://ecampus:s3cr%40t-pass@db.internal:5433/campus?sslmode=require"
    written = backups.backup(database_url=url, path=tmp_path / "campus.dump")
    assert written.read_bytes() == b"PGDMP"
    lines = record.read_text().splitlines()
    arguments = lines[: lines.index("--format=custom") + 2]
    assert not any("s3cr" in a or "db.internal" in a or "ecampus" in a for a in arguments), lines
    assert {"PGHOST=db.internal", "PGPORT=5433", "PGUSER=ecampus", "PGPASSWORD=s3cr@t-pass",
            "PGDATABASE=campus", "PGSSLMODE=require"} <= set(lines)  # fmt: skip


def test_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    pg = "postgresql://ecampus@127.0.0.1/campus"
    with pytest.raises(backups.BackupError, match="pg_dump is not on PATH"):
        backups.backup(database_url=pg, path=tmp_path / "x.dump")
    with pytest.raises(backups.BackupError, match="option 'foo' is not one of"):
        backups.pg_environment(make_url(pg + "?foo=1"))
    with pytest.raises(backups.BackupError, match="in-memory"):
        backups.backup(database_url="sqlite://", path=tmp_path / "x.db")
    with pytest.raises(backups.BackupError, match="no SQLite database at"):
        backups.backup(database_url=f"sqlite:///{tmp_path}/none.db", path=tmp_path / "x.db")
    with pytest.raises(backups.BackupError, match="is not a folder"):
        backups.backup(database_url=pg, path=tmp_path / "missing" / "x.dump")
    assert not list(tmp_path.iterdir()), "a failed backup leaves no file behind"
    with pytest.raises(backups.BackupError, match="no backup file at"):
        backups.restore(database_url=pg, path=tmp_path / "nothing.dump")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"hello, not a database")
    with pytest.raises(backups.BackupError, match="neither an SQLite backup nor a pg_dump"):
        backups.restore(database_url=f"sqlite:///{tmp_path}/t.db", path=junk)
    dump = tmp_path / "campus.dump"
    dump.write_bytes(b"PGDMP\x01\x0e")
    with pytest.raises(backups.BackupError, match=r"is a PostgreSQL dump, but .* sqlite database"):
        backups.restore(database_url=f"sqlite:///{tmp_path}/t.db", path=dump)
    assert not (tmp_path / "t.db").exists()


def test_cli_reports_errors_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(monkeypatch, f"sqlite:///{tmp_path}/none.db", "backup", str(tmp_path)) == 1
    assert capsys.readouterr().err == f"ecampus: no SQLite database at {tmp_path}/none.db\n"


def test_a_backup_restores_with_the_sqlite3_shell_too(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    """The SQLite backup is one plain database file (no -wal beside it), as operators expect."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's file format only")
    make_data(client)
    copy = backups.backup(database_url=database_url, path=tmp_path / "plain.db")
    assert not Path(f"{copy}-wal").exists()
    with contextlib.closing(sqlite3.connect(copy)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    shutil.copy(copy, tmp_path / "again.db")
    assert table_rows(f"sqlite:///{tmp_path}/again.db") == table_rows(database_url)
