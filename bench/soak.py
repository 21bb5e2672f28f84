"""Soak test: simulated learners (locust) against a live server, optionally killed with -9.

Starts `ecampus serve` on 127.0.0.1 (a free port) over a fresh database with the bundled
courses, runs `bench/soak_locustfile.py` headless for a fixed time, and checks afterwards:

- no server error (a 5xx other than 503; 503s, "busy, try again", are counted apart);
- every completion the server acknowledged to a learner is in the database with its
  certificate, and every learner the database says completed has a certificate;
- SQLite's `PRAGMA integrity_check` is ok.

With --kill, the server gets SIGKILL in the middle of the run (after a number of
acknowledged completions, or at a set second), is restarted at once on the same port, and
the report says what survived and how long the service was away.

    python bench/soak.py [--learners 200] [--seconds 300] [--kill] [--database-url URL]

Everything is bounded: the run's length, every wait for the server, the locust process.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).resolve().parent / "soak_locustfile.py"
PASSWORD = "soak-password-2026"
START_SECONDS = 90  # the longest a (re)start may take before the run is abandoned
# After a restart, requests that were waiting to retry may still fail for a moment.
DOWN_GRACE_SECONDS = 5
# How much longer than planned a run with a kill may go on (see run_soak).
KILL_EXTRA_SECONDS = 60


@dataclass
class SoakConfig:
    learners: int = 200
    seconds: int = 300
    spawn_rate: float = 5.0
    wait: tuple[float, float] = (1.0, 3.0)
    kill: bool = False
    # kill -9 after this many acknowledged completions, or at kill_at seconds, whichever first
    kill_after_completions: int = 25
    kill_at: float | None = None  # default: half-way
    database_url: str | None = None  # default: a new SQLite file in workdir
    workdir: Path | None = None
    courses_dir: Path = ROOT / "courses"


@dataclass
class KillReport:
    at_seconds: float = 0.0
    acknowledged_before: int = 0
    present_after_restart: int = 0
    integrity_after_kill: str = "n/a"
    recovery_seconds: float = 0.0
    startup_repair: str = ""


@dataclass
class SoakReport:
    database: str
    learners: int
    seconds: int
    requests: int = 0
    failures: int = 0
    requests_per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    server_errors: int = 0
    busy_503: int = 0
    down: int = 0
    down_outside_kill: int = 0
    unexpected: int = 0
    gave_up: int = 0
    acknowledged: int = 0
    registered: int = 0
    completions_in_database: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    completed_without_certificate: int = 0
    integrity: str = "n/a"
    unhandled_in_log: int = 0
    # Tracebacks the server logged outside any request (background tasks): reported, and
    # worth a bug report, but no request failed for them.
    other_tracebacks_in_log: int = 0
    kill: KillReport | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What went wrong; an empty list is a passed soak."""
        found = []
        if self.server_errors:
            found.append(f"{self.server_errors} server errors (5xx other than 503)")
        if self.unexpected:
            found.append(f"{self.unexpected} unexpected answers")
        if self.gave_up:
            found.append(f"{self.gave_up} journeys given up (server unreachable or busy too long)")
        if self.down_outside_kill:
            found.append(f"{self.down_outside_kill} requests without a response outside a kill")
        if self.acknowledged == 0:
            found.append("no completion was acknowledged: the soak proves nothing")
        if self.missing:
            found.append(
                f"{len(self.missing)} acknowledged completions missing: {self.missing[:5]}"
            )
        if self.completed_without_certificate:
            found.append(f"{self.completed_without_certificate} completed without a certificate")
        if self.integrity not in ("ok", "n/a"):
            found.append(f"integrity check: {self.integrity}")
        if self.unhandled_in_log:
            found.append(f"{self.unhandled_in_log} unhandled errors in the server's log")
        if self.kill:
            if self.kill.present_after_restart != self.kill.acknowledged_before:
                found.append("completions acknowledged before the kill were lost")
            if self.kill.integrity_after_kill not in ("ok", "n/a"):
                found.append(f"integrity after the kill: {self.kill.integrity_after_kill}")
        return found

    def summary(self) -> str:
        lines = [
            f"soak on {self.database}: {self.learners} learners for {self.seconds} s",
            f"  requests {self.requests} ({self.requests_per_second:.1f}/s), locust failures "
            f"{self.failures}, p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms",
            f"  server errors (5xx but 503) {self.server_errors}, 503 busy {self.busy_503}, "
            f"no response {self.down} ({self.down_outside_kill} outside a kill), unexpected "
            f"{self.unexpected}, journeys given up {self.gave_up}",
            f"  learners who registered during the run {self.registered}, completions acknowledged "
            f"{self.acknowledged}, in the database {self.completions_in_database}, "
            f"acknowledged but missing {len(self.missing)}, completed without certificate "
            f"{self.completed_without_certificate}, integrity {self.integrity}",
            f"  server log: {self.unhandled_in_log} unhandled errors, "
            f"{self.other_tracebacks_in_log} other tracebacks",
        ]
        if self.kill:
            k = self.kill
            lines.append(
                f"  kill -9 at {k.at_seconds:.1f} s: {k.acknowledged_before} completions "
                f"acknowledged before it, {k.present_after_restart} present after the restart, "
                f"integrity after the kill {k.integrity_after_kill}, back in "
                f"{k.recovery_seconds:.1f} s; start-up repair: {k.startup_repair or 'nothing to do'}"
            )
        problems = self.problems()
        lines.append("  PASSED" if not problems else "  FAILED: " + "; ".join(problems))
        return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


class Server:
    """`ecampus serve` in its own process (one worker, so its pid is the server's)."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env = env
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait until /healthz answers 200; the seconds that took."""
        started = time.monotonic()
        command = [sys.executable, "-m", "ecampus.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=log)
        deadline = started + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {START_SECONDS} s: {self.tail()}")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


class Record:
    """The locust side's record file, read as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = []
        self._offset = 0

    def read(self) -> list[dict[str, Any]]:
        if self.path.exists():
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written waits
            self._offset += len(complete)
            self.events += [json.loads(line) for line in complete.splitlines() if line]
        return self.events

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]


def integrity(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return "n/a"
    connection = sqlite3.connect(url.database or "")
    try:
        return "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()


def present(database_url: str, acknowledged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The acknowledged completions the database does not hold (with their certificate)."""
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT u.email, e.course_id, c.code FROM enrollments e "
                    "JOIN users u ON u.id = e.user_id "
                    "JOIN certificates c ON c.user_id = e.user_id AND c.kind = 'course' "
                    "AND c.subject_id = e.course_id AND c.revoked_at IS NULL "
                    "WHERE e.status = 'completed' AND e.completed_at IS NOT NULL"
                )
            ).all()
    finally:
        engine.dispose()
    held = {(email, course, code) for email, course, code in rows}
    return [a for a in acknowledged if (a["email"], a["course"], a["certificate"]) not in held]


def completion_counts(database_url: str) -> tuple[int, int, int]:
    """(learners registered, completions, completions without a current certificate)."""
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as connection:
            registered = connection.execute(
                text(
                    "SELECT count(*) FROM users WHERE email LIKE 'soak-%' "
                    "AND email NOT LIKE 'soak-pre-%'"
                )
            ).scalar_one()
            completed = connection.execute(
                text("SELECT count(*) FROM enrollments WHERE status = 'completed'")
            ).scalar_one()
            without = connection.execute(
                text(
                    "SELECT count(*) FROM enrollments e WHERE "
                    "(e.status = 'completed' OR e.completed_at IS NOT NULL) AND NOT EXISTS ("
                    "SELECT 1 FROM certificates c WHERE c.user_id = e.user_id AND "
                    "c.kind = 'course' AND c.subject_id = e.course_id AND c.revoked_at IS NULL)"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return int(registered), int(completed), int(without)


def make_learners(database_url: str, count: int) -> int:
    """Accounts soak-pre-N@example.org, made as an import would (one password hash for all,
    so that making them costs nothing); the learners who sign in rather than register."""
    from sqlmodel import Session

    from ecampus.accounts.models import User
    from ecampus.accounts.passwords import hash_password
    from ecampus.db import make_engine

    engine = make_engine(database_url, pool_size=1)
    password_hash = hash_password(PASSWORD)
    try:
        with Session(engine) as session:
            session.add_all(
                User(
                    email=f"soak-pre-{n}@example.org",
                    password_hash=password_hash,
                    full_name=f"Aprendiz Importado {n}",
                    institution="Instituto Guatemalteco de Migración",
                    institution_type="government",
                    country="GT",
                    language="es",
                )
                for n in range(count)
            )
            session.commit()
    finally:
        engine.dispose()
    return count


@dataclass(frozen=True)
class LocustStats:
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float


def locust_stats(path: Path) -> LocustStats:
    """Totals and percentiles over every request, from locust's final --json-file."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    histogram: dict[float, int] = {}
    for entry in entries:
        for milliseconds, count in entry["response_times"].items():
            histogram[float(milliseconds)] = histogram.get(float(milliseconds), 0) + count
    total = sum(histogram.values())

    def percentile(share: float) -> float:
        seen = 0
        for milliseconds in sorted(histogram):
            seen += histogram[milliseconds]
            if seen >= share * total:
                return milliseconds
        return 0.0

    return LocustStats(
        requests=sum(e["num_requests"] for e in entries),
        failures=sum(e["num_failures"] for e in entries),
        p50_ms=percentile(0.50),
        p99_ms=percentile(0.99),
    )


def run_soak(config: SoakConfig) -> SoakReport:
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="ecampus-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = config.database_url or f"sqlite:///{workdir / 'soak.db'}"
    report = SoakReport(
        database=make_url(sqlalchemy_url(database_url)).get_backend_name(),
        learners=config.learners,
        seconds=config.seconds,
    )
    env = {
        **os.environ,
        "ECAMPUS_ENV": "production",
        "ECAMPUS_SECRET_KEY": secrets.token_urlsafe(48),
        "ECAMPUS_DATABASE_URL": database_url,
        "ECAMPUS_COURSES_DIR": str(config.courses_dir),
        "ECAMPUS_WATCH_COURSES": "false",
        # Every simulated learner comes from 127.0.0.1: the per-address sign-in and
        # registration limits would stop the run after 30 registrations.
        "ECAMPUS_RATE_LIMIT_EXEMPT": "127.0.0.1",
    }
    env.pop("ECAMPUS_RATE_LIMIT_URL", None)
    migrate = subprocess.run([sys.executable, "-m", "ecampus.cli", "db", "upgrade"], env=env,
                             cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    if migrate.returncode != 0:
        raise RuntimeError(f"ecampus db upgrade failed: {migrate.stderr[-2000:]}")
    premade = make_learners(database_url, config.learners)
    port = free_port()
    server = Server(
        {**env, "ECAMPUS_BASE_URL": f"http://127.0.0.1:{port}"}, port, workdir / "server.log"
    )
    record = Record(workdir / "record.jsonl")
    record.path.unlink(missing_ok=True)
    stats_prefix = workdir / "locust"
    kill_at = config.kill_at if config.kill_at is not None else config.seconds / 2
    kill_window: tuple[float, float] | None = None
    # With a kill, the run may go on past its planned length (to at most hard_stop) until
    # the kill found completions to lose and the restarted server acknowledged new ones:
    # a slow machine makes a longer run, not a soak that proves nothing.
    hard_stop = config.seconds + (KILL_EXTRA_SECONDS if config.kill else 0)
    server.start()
    locust: subprocess.Popen[bytes] | None = None
    try:
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--users", str(config.learners), "--spawn-rate", str(config.spawn_rate),
            "--run-time", f"{hard_stop:.0f}s", "--host", server.base_url,
            "--json-file", str(stats_prefix), "--only-summary", "--loglevel", "WARNING",
            "--stop-timeout", "5", "--exit-code-on-error", "0",
        ]  # fmt: skip
        locust_env = {**os.environ, "SOAK_RECORD": str(record.path),
                      "SOAK_COURSES_DIR": str(config.courses_dir),
                      "SOAK_WAIT": f"{config.wait[0]},{config.wait[1]}",
                      "SOAK_PREMADE": str(premade), "SOAK_PASSWORD": PASSWORD}  # fmt: skip
        with (workdir / "locust.log").open("ab") as log:
            locust = subprocess.Popen(command, env=locust_env, cwd=ROOT, stdout=log, stderr=log)
        started = time.monotonic()
        deadline = started + hard_stop + 120
        stopping = False
        while locust.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("locust ran past its time")
            time.sleep(0.25)
            record.read()
            acknowledged = record.of("completed")
            elapsed = time.monotonic() - started
            # The kill must find completions to lose: after kill_after of them, or from
            # kill_at on once there is one, or half-way through the extra time regardless.
            if (
                config.kill
                and report.kill is None
                and (
                    len(acknowledged) >= config.kill_after_completions
                    or (elapsed >= kill_at and acknowledged)
                    or elapsed >= config.seconds + KILL_EXTRA_SECONDS / 2
                )
            ):
                report.kill, kill_window = crash_and_restart(server, database_url, record, elapsed)
            done = elapsed >= config.seconds and (
                not config.kill
                or (
                    report.kill is not None
                    and kill_window is not None
                    and time.time() >= kill_window[1]
                    and any(e["t"] > kill_window[1] for e in acknowledged)
                )
            )
            if done and not stopping:
                stopping = True
                locust.send_signal(signal.SIGTERM)  # locust stops and writes its statistics
        report.seconds = round(time.monotonic() - started)
        if locust.returncode != 0:
            raise RuntimeError(f"locust failed: {(workdir / 'locust.log').read_text()[-3000:]}")
    finally:
        if locust is not None and locust.poll() is None:
            locust.kill()
            locust.wait(timeout=30)
        server.stop()

    events = record.read()
    stats = locust_stats(stats_prefix.with_suffix(".json"))
    report.requests, report.failures = stats.requests, stats.failures
    report.requests_per_second = stats.requests / max(report.seconds, 1)
    report.p50_ms, report.p99_ms = stats.p50_ms, stats.p99_ms
    report.server_errors = len(record.of("server_error"))
    report.busy_503 = len(record.of("busy"))
    down = record.of("down")
    report.down = len(down)
    report.down_outside_kill = sum(
        1 for e in down if not (kill_window and kill_window[0] <= e["t"] <= kill_window[1])
    )
    report.unexpected = len(record.of("unexpected"))
    report.gave_up = len(record.of("gave_up"))
    acknowledged = [e for e in events if e["kind"] == "completed"]
    report.acknowledged = len(acknowledged)
    report.missing = present(database_url, acknowledged)
    report.registered, report.completions_in_database, report.completed_without_certificate = (
        completion_counts(database_url)
    )
    report.integrity = integrity(database_url)
    log = server.log.read_text(errors="replace")
    report.unhandled_in_log = log.count("unhandled error")
    report.other_tracebacks_in_log = log.count("Traceback") - report.unhandled_in_log
    report.samples = [e for e in events if e["kind"] in ("server_error", "unexpected")][:10]
    return report


def crash_and_restart(
    server: Server, database_url: str, record: Record, elapsed: float
) -> tuple[KillReport, tuple[float, float]]:
    """kill -9 the server, check the database as the crash left it, restart, check again."""
    killed_at = time.time()
    server.kill9()
    before = [e for e in record.read() if e["kind"] == "completed" and e["t"] <= killed_at]
    kill = KillReport(at_seconds=elapsed, acknowledged_before=len(before))
    # What the crash left: SQLite recovers its write-ahead log when the file is opened.
    kill.integrity_after_kill = integrity(database_url)
    log_size = server.log.stat().st_size
    server.start()
    back = time.time()
    kill.recovery_seconds = back - killed_at
    kill.present_after_restart = len(before) - len(present(database_url, before))
    with server.log.open(encoding="utf-8", errors="replace") as handle:
        handle.seek(log_size)
        repairs = [line.strip() for line in handle if "ecampus.progression.repair" in line]
    kill.startup_repair = "; ".join(repairs)
    return kill, (killed_at - 1, back + DOWN_GRACE_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="learners started per second")
    parser.add_argument("--wait", default="1,3", help="seconds between a learner's steps: MIN,MAX")
    parser.add_argument(
        "--kill",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="kill -9 the server mid-run and restart it",
    )
    parser.add_argument(
        "--kill-after", type=int, default=25, help="... after this many completions"
    )
    parser.add_argument(
        "--kill-at", type=float, default=None, help="... or at this second (default: half-way)"
    )
    parser.add_argument("--database-url", default=os.environ.get("SOAK_DATABASE_URL"),
                        help="a migrated or empty database (default: a new SQLite file)")  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=None, help="logs, record and statistics")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    low, high = (float(x) for x in args.wait.split(","))
    config = SoakConfig(
        learners=args.learners, seconds=args.seconds, spawn_rate=args.spawn_rate,
        wait=(low, high), kill=args.kill, kill_after_completions=args.kill_after,
        kill_at=args.kill_at, database_url=args.database_url, workdir=args.workdir,
    )  # fmt: skip
    report = run_soak(config)
    print(report.summary())
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2, default=str))
    sys.exit(1 if report.problems() else 0)


if __name__ == "__main__":
    main()
