"""Consistent copies of the database while it serves, and putting one back.

SQLite goes through its online backup API (one step, so the copy is a single snapshot that
never blocks the app's writers in WAL mode); PostgreSQL through `pg_dump --format=custom`
and `pg_restore`, with the connection passed in PG* environment variables so that no
password shows in the process list.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from ecampus.dbmigrate import alembic_config

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# Tables whose rows mean a database is in use: restoring over them needs --force.
IN_USE_TABLES = ("users", "enrollments")
# libpq settings an ecampus URL may carry in its query string, and their PG* variables.
PG_QUERY_VARIABLES = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


class BackupError(RuntimeError):
    """The backup or restore could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    revision: str | None
    head: str | None

    @property
    def needs_upgrade(self) -> bool:
        return self.revision != self.head


def _url(database_url: str) -> URL:
    try:
        return make_url(database_url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError and ValueError alike
        raise BackupError(f"ECAMPUS_DATABASE_URL is not a database URL: {exc}") from None


def _kind(url: URL) -> str:
    backend = url.get_backend_name()
    if backend in ("sqlite", "postgresql"):
        return backend
    raise BackupError(f"backups support SQLite and PostgreSQL, not {backend}")


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up or restore")
    return Path(url.database)


def default_name(database_url: str, *, now: datetime | None = None) -> str:
    """ecampus-20261130-0715.db (SQLite) or .dump (PostgreSQL): the name in a folder PATH."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    suffix = ".db" if _kind(_url(database_url)) == "sqlite" else ".dump"
    return f"ecampus-{stamp}{suffix}"


def _target(database_url: str, path: Path) -> Path:
    if path.is_dir():
        return path / default_name(database_url)
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder")
    return path


def backup(*, database_url: str, path: Path) -> Path:
    """Write a consistent copy of the database to `path` (a file, or a folder to put it in)."""
    url = _url(database_url)
    target = _target(database_url, path)
    # Write beside the target and rename: a failed backup never leaves a half file under
    # the name a restore would trust, and never destroys yesterday's copy of that name.
    handle, partial_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    partial = Path(partial_name)
    try:
        if _kind(url) == "sqlite":
            _sqlite_backup(_sqlite_file(url), partial)
        else:
            _pg_dump(url, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _sqlite_backup(source: Path, destination: Path) -> None:
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    with _connect(source, readonly=True) as src, _connect(destination) as dst:
        # pages=-1 copies everything in one step: a single read transaction, so the copy is
        # one snapshot. Stepping in chunks would restart whenever the app writes meanwhile.
        src.backup(dst, pages=-1)
        # A backup is one self-contained file: no -wal beside it to lose.
        dst.execute("PRAGMA journal_mode=DELETE")
        problems = [row[0] for row in dst.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise BackupError(f"the copy failed SQLite's integrity check: {'; '.join(problems[:5])}")


def _connect(path: Path, *, readonly: bool = False) -> contextlib.closing[sqlite3.Connection]:
    """A plain sqlite3 connection, closed (not only committed) at the end of the block."""
    if readonly:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    else:
        connection = sqlite3.connect(path)
    connection.execute("PRAGMA busy_timeout=10000")
    return contextlib.closing(connection)


def pg_environment(url: URL, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The PG* variables libpq tools read, from an ecampus PostgreSQL URL."""
    env = dict(os.environ if base is None else base)
    values: dict[str, str | None] = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    for key, option in url.query.items():
        variable = PG_QUERY_VARIABLES.get(key)
        if variable is None:
            known = ", ".join(sorted(PG_QUERY_VARIABLES))
            raise BackupError(f"the database URL's option {key!r} is not one of: {known}")
        values[variable] = option if isinstance(option, str) else option[-1]
    for variable, value in values.items():
        if value:
            env[variable] = value
        else:
            env.pop(variable, None)
    return env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL client tools of the server's "
            "version or newer (Debian: apt-get install postgresql-client)"
        )
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    # A fixed tool found on PATH, our own arguments, no shell.
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        tool = Path(command[0]).name
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        raise BackupError(f"{tool} failed: {detail}")


def _pg_dump(url: URL, destination: Path) -> None:
    _run(
        [_pg_tool("pg_dump"), "--format=custom", f"--file={destination}"],
        pg_environment(url),
    )


def _file_kind(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is neither an SQLite backup nor a pg_dump custom-format file")


def rows_in_use(database_url: str) -> dict[str, int]:
    """How many rows the in-use tables hold (missing tables count as empty)."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            return {
                table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - fixed names
                for table in IN_USE_TABLES
                if table in present
            }
    finally:
        engine.dispose()


def revision(database_url: str) -> str | None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def restore(*, database_url: str, path: Path, force: bool = False) -> RestoreResult:
    """Write the backup at `path` into the database at `database_url`.

    The database must be empty or freshly migrated; one holding accounts or enrolments is
    refused unless `force`, and is then replaced by the backup.
    """
    url = _url(database_url)
    kind = _kind(url)
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    found = _file_kind(path)
    if found != kind:
        names = {"sqlite": "an SQLite backup", "postgresql": "a PostgreSQL dump"}
        raise BackupError(
            f"{path} is {names[found]}, but ECAMPUS_DATABASE_URL is a {kind} database"
        )
    if kind == "sqlite" and not _sqlite_file(url).parent.is_dir():
        raise BackupError(f"{_sqlite_file(url).parent} is not a folder")
    in_use = {table: n for table, n in rows_in_use(database_url).items() if n}
    if in_use and not force:
        counts = ", ".join(f"{n} {table}" for table, n in in_use.items())
        raise BackupError(
            f"the database at ECAMPUS_DATABASE_URL already holds data ({counts}); restore "
            "into an empty or freshly migrated database, or pass --force to replace it"
        )
    if kind == "sqlite":
        _sqlite_restore(path, _sqlite_file(url))
    else:
        _run(
            [
                _pg_tool("pg_restore"),
                # Drop what the backup holds before recreating it, so a freshly migrated
                # database takes it as well as an empty one; all or nothing.
                "--clean",
                "--if-exists",
                "--single-transaction",
                "--exit-on-error",
                # The backup's owner and grants may name roles this server lacks.
                "--no-owner",
                "--no-privileges",
                f"--dbname={url.database}",
                str(path),
            ],
            pg_environment(url),
        )
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    return RestoreResult(path=path, revision=revision(database_url), head=head)


def _sqlite_restore(source: Path, destination: Path) -> None:
    with _connect(source, readonly=True) as src:
        problems = [row[0] for row in src.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupError(f"{source} fails SQLite's integrity check: {problems[0]}")
        with _connect(destination) as dst:
            # The backup API replaces every page of the destination in one transaction,
            # under SQLite's own locks, so a server still connected sees old or new, never
            # a mixture.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=WAL")
