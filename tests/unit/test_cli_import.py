"""`ecampus enrol import`, run as an operator runs it: a subprocess, on SQLite and PostgreSQL,
with a progress bar only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine
from sqlmodel import Session, select

from ecampus.accounts.models import User
from ecampus.audit.models import AuditEntry
from ecampus.learning import cohorts
from ecampus.learning.models import Enrollment
from ecampus.mail.models import OutboxMail
from tests.unit.test_cli import ecampus

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "participants"
PROGRAMME = "diplomado-migracion-laboral"


def environment(database_url: str) -> dict[str, str]:
    return {
        "ECAMPUS_DATABASE_URL": database_url,
        "ECAMPUS_COURSES_DIR": str(ROOT / "courses"),
        "ECAMPUS_BASE_URL": "https://campus.example.org",
        "LC_ALL": "en_US.UTF-8",
    }


def with_cohort(database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as session:
        cohorts.create(session, code="d-2026", name="Diplomado", actor="cli")
    engine.dispose()


def test_errors_are_reported_by_row_and_nothing_is_imported(
    database_url: str, tmp_path: Path
) -> None:
    with_cohort(database_url)
    env = environment(database_url)
    args = (
        "enrol",
        "import",
        str(FIXTURES / "diplomado-37.csv"),
        "--cohort",
        "d-2026",
        "--programme",
        PROGRAMME,
    )
    result = ecampus(*args, cwd=tmp_path, env=env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith(str(FIXTURES))]
    assert [line.split(": ", 2)[0].rsplit(":", 1)[1] for line in errors] == ["10", "18", "31"]
    assert ":18: País: Unknown country Narnia" in result.stderr
    assert "Nothing imported" in result.stderr
    assert "━" not in result.stderr  # piped: no progress bar
    assert result.stdout == ""

    skipped = ecampus(*args, "--skip-invalid", "--send-invitations", cwd=tmp_path, env=env)
    assert skipped.returncode == 1  # the file still had errors
    invitations = [line.split("\t") for line in skipped.stdout.splitlines()]
    assert len(invitations) == 34
    assert all(url.startswith("https://campus.example.org/reset/") for _, url in invitations)
    assert (
        "34 accounts created, 0 existing accounts, 102 enrolments made, 3 problems"
        in skipped.stderr
    )
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as session:
        assert len(session.exec(select(OutboxMail)).all()) == 34
        assert len(session.exec(select(Enrollment)).all()) == 102
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "cohort.import")).one()
        assert entry.actor == "cli"
        assert entry.detail["programme"] == PROGRAMME
    engine.dispose()


def test_dry_run_and_json(database_url: str, tmp_path: Path) -> None:
    with_cohort(database_url)
    env = environment(database_url)
    result = ecampus(
        "enrol", "import", str(FIXTURES / "diplomado-37.xlsx"), "--cohort", "d-2026",
        "--course", "migracion-laboral", "--dry-run", "--format", "json", cwd=tmp_path, env=env,
    )  # fmt: skip
    body = json.loads(result.stdout)
    assert body["dry_run"] is True
    assert (body["rows"], body["created"], len(body["errors"])) == (37, 34, 3)
    assert body["errors"][1] == {
        "row": 18,
        "column": "País",
        "message": body["errors"][1]["message"],
    }
    fixed = ecampus(
        "enrol", "import", str(FIXTURES / "diplomado-37-corregido.csv"), "--cohort", "d-2026",
        "--course", "migracion-laboral", "--dry-run", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert fixed.returncode == 0
    assert "Dry run, nothing changed. 37 rows: 37 accounts created" in fixed.stderr
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as session:
        assert session.exec(select(User)).all() == []
    engine.dispose()


def test_bad_requests_exit_1_with_a_message(database_url: str, tmp_path: Path) -> None:
    with_cohort(database_url)
    env = environment(database_url)
    fixed = str(FIXTURES / "diplomado-37-corregido.csv")
    for args, says in (
        (("nowhere.csv", "--cohort", "d-2026", "--course", "migracion-laboral"), "nowhere.csv"),
        ((fixed, "--cohort", "nope", "--course", "migracion-laboral"), "Cohort 'nope' not found"),
        ((fixed, "--cohort", "d-2026", "--course", "nope"), "Course 'nope' not found"),
        ((fixed, "--cohort", "d-2026", "--programme", "nope"), "Programme 'nope' not found"),
    ):
        result = ecampus("enrol", "import", *args, cwd=tmp_path, env=env)
        assert result.returncode == 1, args
        assert says in result.stderr
    both = ecampus(
        "enrol",
        "import",
        fixed,
        "--cohort",
        "d-2026",
        "--course",
        "a",
        "--programme",
        "b",
        cwd=tmp_path,
        env=env,
    )
    assert both.returncode == 2  # argparse: one of them


def test_progress_bar_on_a_terminal(database_url: str, tmp_path: Path) -> None:
    with_cohort(database_url)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ecampus.cli", "enrol", "import", str(FIXTURES / "diplomado-37-corregido.csv"),
         "--cohort", "d-2026", "--course", "migracion-laboral"],
        cwd=tmp_path, env={**os.environ, **environment(database_url), "TERM": "xterm", "COLUMNS": "100"},
        stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(leader)
    assert process.returncode == 0
    text = shown.decode("utf-8", "replace")
    assert "diplomado-37-corregido.csv" in text
    assert "━" in text
    assert "Imported. 37 rows: 37 accounts created" in text
    assert len(stdout.decode().splitlines()) == 37
