"""Reports at scale, against a running server: the dashboard and the exports at 100,000
enrolments, with the server's resident memory sampled throughout.

For each database (a fresh SQLite file; a fresh PostgreSQL database, dropped afterwards) it
migrates, makes the data (`ecampus demo --learners N --seed S` when the command has it,
otherwise bench/bulkdata.py's plain INSERTs of the same shape: about five enrolments a
learner), creates a coordinator, starts ecampus on 127.0.0.1 with one uvicorn worker as
`make run` would, signs in, warms up, and then times, each `--repeat` times (the median
is reported, and the best):

    the dashboard page (/coordinator), its JSON (/api/v1/reports/dashboard), the programme
    report (JSON), the summary (/api/v1/reports/summary, no target), and the completions
    report as CSV, XLSX and JSON (whole body received)

while a sampler reads the server's RSS (psutil, every 20 ms, the process and its children).
It prints a markdown table, compares with the targets of issues 9 and 12 (dashboard and
programme report <= 0.5 s, CSV <= 3 s, XLSX <= 20 s, RSS < 200 MB during an export), and
writes bench/results/exports.md and .json. `--only dashboard summary` measures just those
targets (the exports take a minute of both cores).

    python bench/exports.py [--learners 20000] [--seed 1] [--repeat 3] [--sqlite-copy FILE]
                            [--databases sqlite postgresql] [--only WORD ...]
                            [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
COURSES = ROOT / "courses"
PASSWORD = "bench-exports-password-1"
EMAIL = "bench-coordinator@example.org"

DASHBOARD_TARGET_S = 0.5
CSV_TARGET_S = 3.0
XLSX_TARGET_S = 20.0
RSS_TARGET_MB = 200.0

TARGETS: list[tuple[str, str, float]] = [
    ("dashboard page", "/coordinator", DASHBOARD_TARGET_S),
    ("dashboard JSON", "/api/v1/reports/dashboard", DASHBOARD_TARGET_S),
    ("programme report JSON", "/api/v1/reports/programmes?format=json", DASHBOARD_TARGET_S),
    ("summary JSON", "/api/v1/reports/summary", 0.0),
    ("completions CSV", "/api/v1/reports/completions?format=csv", CSV_TARGET_S),
    ("completions XLSX", "/api/v1/reports/completions?format=xlsx", XLSX_TARGET_S),
    ("completions JSON", "/api/v1/reports/completions?format=json", 0.0),
]
EXPORTS = ("completions CSV", "completions XLSX", "completions JSON")


@dataclass
class Measure:
    database: str
    what: str
    path: str
    status: int
    median_s: float
    best_s: float
    first_byte_s: float
    megabytes: float
    server_cpu_s: float
    rss_peak_mb: float
    target_s: float
    ok: bool


@dataclass
class Run:
    database: str
    enrolments: int
    data_by: str
    data_s: float
    rss_idle_mb: float
    load_before: float
    measures: list[Measure] = field(default_factory=list)
    load_after: float = 0.0


class RssSampler:
    """The largest resident set of a process tree seen while running."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.process = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.every)

    def cpu(self) -> float:
        total = 0.0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def __enter__(self) -> RssSampler:
        self.peak = self.rss()
        self.cpu_start = self.cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())
        self.cpu_used = self.cpu() - self.cpu_start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ecampus(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "ecampus.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"bench: ecampus {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def demo_has_learners(env: dict[str, str]) -> bool:
    done = subprocess.run([sys.executable, "-m", "ecampus.cli", "demo", "--help"], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return "--learners" in done.stdout


def make_data(env: dict[str, str], url: str, learners: int, seed: int) -> tuple[str, float]:
    start = time.monotonic()
    if demo_has_learners(env):
        ecampus(env, "demo", "--learners", str(learners), "--seed", str(seed))
        return f"ecampus demo --learners {learners} --seed {seed}", time.monotonic() - start
    from bench import bulkdata
    from ecampus.courses.catalog import Catalogue

    engine = create_engine(sqlalchemy_url(url))
    # Record the courses' content versions first, so the server does not start by
    # recomputing every enrolment's progress for versions it has never seen.
    Catalogue(COURSES).load(engine)
    bulkdata.fill(engine, learners=learners, seed=seed)
    engine.dispose()
    return f"bench/bulkdata.py --learners {learners} --seed {seed}", time.monotonic() - start


def sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def count_enrolments(url: str) -> int:
    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as connection:
        total = int(connection.execute(text("SELECT count(*) FROM enrollments")).scalar_one())
    engine.dispose()
    return total


def wait_up(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if process.poll() is not None:
            raise SystemExit(f"bench: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: the server at {url} did not answer within {seconds:.0f} s")


def fetch(url: str, token: str) -> tuple[int, int, float, float]:
    """Status, bytes, seconds to the first byte and to the last."""
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}",
                                                   "accept-language": "es"})  # fmt: skip
    start = time.perf_counter()
    size = 0
    first = 0.0
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            status = response.status
            while chunk := response.read(256 * 1024):
                if not first:
                    first = time.perf_counter() - start
                size += len(chunk)
    except urllib.error.HTTPError as error:
        status, size = error.code, len(error.read())
    return status, size, first, time.perf_counter() - start


def sign_in(base: str) -> str:
    body = urllib.parse.urlencode({"username": EMAIL, "password": PASSWORD}).encode()
    with urllib.request.urlopen(f"{base}/api/v1/auth/token", data=body, timeout=30) as response:
        return str(json.loads(response.read())["access_token"])


def measure(database: str, url: str, args: argparse.Namespace) -> Run:
    print(f"\n{database}: making the data ...", flush=True)
    env = {
        **os.environ,
        "ECAMPUS_ENV": "production",
        "ECAMPUS_SECRET_KEY": secrets.token_urlsafe(48),
        "ECAMPUS_DATABASE_URL": url,
        "ECAMPUS_COURSES_DIR": str(COURSES),
        "ECAMPUS_WATCH_COURSES": "false",
        "ECAMPUS_BASE_URL": "http://127.0.0.1",
        "ECAMPUS_RATE_LIMIT_EXEMPT": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
    }
    ecampus(env, "db", "upgrade")
    if database == "SQLite" and args.sqlite_copy:
        data_by, data_s = f"a copy of {args.sqlite_copy}", 0.0
    elif database == "PostgreSQL" and args.postgres_database:
        data_by, data_s = f"the database {args.postgres_database}", 0.0
    else:
        data_by, data_s = make_data(env, url, args.learners, args.seed)
    enrolments = count_enrolments(url)
    print(f"  {enrolments:,} enrolments by {data_by} in {data_s:.1f} s", flush=True)
    if database == "PostgreSQL":
        # What autovacuum does after a bulk load, sooner: the planner needs the tables' sizes.
        engine = create_engine(sqlalchemy_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
        engine.dispose()
    try:
        ecampus(env, "users", "create", EMAIL, "--role", "coordinator", "--full-name",
                "Coordinación de pruebas", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    except SystemExit as error:  # a database measured before already has the account
        if "exists" not in str(error) and "taken" not in str(error).lower():
            raise
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w", prefix="ecampus-bench-server-", suffix=".log")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "ecampus.cli", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--workers", "1"],
        env=env, cwd=ROOT, start_new_session=True,
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        started = time.monotonic()
        try:
            wait_up(f"{base}/healthz", server, seconds=args.start_timeout)
        except SystemExit:
            log.flush()
            print(Path(log.name).read_text(encoding="utf-8", errors="replace")[-3000:])
            raise
        print(f"  first answer {time.monotonic() - started:.1f} s after start", flush=True)
        token = sign_in(base)
        for _, path, _ in TARGETS[:3]:  # warm up: templates, catalogues, plans
            fetch(base + path, token)
        time.sleep(1)
        run = Run(database, enrolments, data_by, data_s,
                  RssSampler(server.pid).rss() / 2**20, os.getloadavg()[0])  # fmt: skip
        for what, path, target in TARGETS:
            if args.only and not any(word in what for word in args.only):
                continue
            times, firsts, cpus = [], [], []
            status, size, peak = 0, 0, 0
            for _ in range(args.repeat):
                with RssSampler(server.pid) as sampler:
                    status, size, first, seconds = fetch(base + path, token)
                times.append(seconds)
                firsts.append(first)
                cpus.append(sampler.cpu_used)
                peak = max(peak, sampler.peak)
            median = statistics.median(times)
            rss = peak / 2**20
            ok = status == 200 and (not target or median <= target)
            if what in EXPORTS:
                ok = ok and rss < RSS_TARGET_MB
            run.measures.append(Measure(database, what, path, status, median, min(times),
                                        statistics.median(firsts), size / 2**20,
                                        statistics.median(cpus), rss, target, ok))  # fmt: skip
            print(f"  {what:24} {status} median {median:6.3f} s  best {min(times):6.3f} s  "
                  f"{size / 2**20:7.1f} MB  server CPU {statistics.median(cpus):6.2f} s  "
                  f"RSS peak {rss:5.0f} MB", flush=True)  # fmt: skip
        # The machine may be shared: the load at the end says whether others ran meanwhile.
        run.load_after = os.getloadavg()[0]
        return run
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def table(runs: list[Run]) -> str:
    lines = [
        "| database | what | median | best | first byte | size | server CPU | server RSS peak "
        "| target | ok |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for run in runs:
        for m in run.measures:
            target = (
                f"≤ {m.target_s:g} s" if m.target_s else "streamed" if m.what in EXPORTS else "none"
            )
            if m.what in EXPORTS:
                target += f", RSS < {RSS_TARGET_MB:g} MB"
            lines.append(
                f"| {m.database} | {m.what} | {m.median_s:.3f} s | {m.best_s:.3f} s | "
                f"{m.first_byte_s:.3f} s | {m.megabytes:.1f} MB | {m.server_cpu_s:.2f} s | "
                f"{m.rss_peak_mb:.0f} MB | "
                f"{target} | {'yes' if m.ok else 'NO (' + str(m.status) + ')'} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sqlite-copy", type=Path, metavar="FILE",
                        help="measure a copy of this SQLite database instead of making data")  # fmt: skip
    parser.add_argument("--postgres-database", metavar="NAME",
                        help="measure this existing database (kept) instead of making one")  # fmt: skip
    parser.add_argument("--only", nargs="+", metavar="WORD",
                        help="measure only the targets whose name has one of these words, "
                             "e.g. --only dashboard summary")  # fmt: skip
    parser.add_argument("--start-timeout", type=float, default=600,
                        help="seconds to wait for the server's first answer")  # fmt: skip
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])  # fmt: skip
    parser.add_argument("--postgres-url", default=os.environ.get(
        "ECAMPUS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    runs: list[Run] = []
    folder = Path(tempfile.mkdtemp(prefix="ecampus-bench-exports-"))
    try:
        for database in args.databases:
            if database == "sqlite":
                if args.sqlite_copy:
                    shutil.copy(args.sqlite_copy, folder / "bench.db")
                runs.append(measure("SQLite", f"sqlite:///{folder / 'bench.db'}", args))
                continue
            base, _, _ = args.postgres_url.rpartition("/")
            if args.postgres_database:  # made before, kept: measured as it is
                runs.append(measure("PostgreSQL", f"{base}/{args.postgres_database}", args))
                continue
            name = f"ecampus_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(sqlalchemy_url(args.postgres_url), isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
            except Exception as error:  # unreachable: say so, measure the rest
                print(f"bench: PostgreSQL at {args.postgres_url} is unreachable: {error}")
                continue
            try:
                runs.append(measure("PostgreSQL", f"{base}/{name}", args))
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not runs:
        return 1
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/exports.py " + " ".join(argv if argv is not None else sys.argv[1:])
    header = (
        f"{stamp}, `{command.strip()}`, {runs[0].enrolments:,} enrolments "
        f"({runs[0].data_by}), one uvicorn worker, {os.cpu_count()} cores, load average "
        f"before {', '.join(f'{r.database} {r.load_before:.1f}' for r in runs)}, after "
        f"{', '.join(f'{r.database} {r.load_after:.1f}' for r in runs)}; server RSS "
        f"idle {', '.join(f'{r.database} {r.rss_idle_mb:.0f} MB' for r in runs)}"
    )
    report = f"{header}\n\n{table(runs)}\n"
    print("\n" + report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "exports.md").write_text(report, encoding="utf-8")
    (RESULTS / "exports.json").write_text(
        json.dumps([asdict(r) for r in runs], indent=2), encoding="utf-8"
    )
    failed = [f"{m.database} {m.what}" for r in runs for m in r.measures if not m.ok]
    if failed:
        print("targets missed: " + "; ".join(failed))
    return 0 if not failed else 2


if __name__ == "__main__":
    raise SystemExit(main())
