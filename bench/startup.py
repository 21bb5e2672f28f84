"""Start-up and footprint: how soon `ecampus serve` answers, and how much memory a worker holds.

Builds the catalogue of bench/validate_catalogue.py (25 courses of 40 items: lessons with
Markdown in `body` and `body_file`, a quiz every eighth item) in a temporary folder, then for
SQLite and PostgreSQL (a fresh database, dropped afterwards) starts `ecampus serve --workers 1`
with production settings and measures:

- start → first 200 from /healthz, and start → first 200 from a signed-in learner's lesson
  page (the page rendered for the first time), on the first start over a fresh database
  (every course version new to it) and on `--repeat` restarts over the same database;
- the worker's resident memory (VmRSS, and its peak VmHWM, from /proc) right after start and
  after a warm-up of typical pages: the catalogue, the sign-in page, every course page, every
  item of the five courses the learner is enrolled in, the JSON outline and items.

Each database gets a course cache of its own (ECAMPUS_CACHE_DIR, see ecampus.courses.cache),
empty at its first start: the first start parses every course and writes the cache, the
restarts read it. Python's bytecode is compiled first (untimed, into a private
PYTHONPYCACHEPREFIX), as `pip install` does on a server: a shell with
PYTHONDONTWRITEBYTECODE=1 would otherwise compile ecampus's sources at every start, which
no installed server does (`--bytecode source` measures that case).

    python bench/startup.py [--courses 25] [--items 40] [--repeat 3]
                            [--databases sqlite postgresql] [--postgres-url URL]
                            [--bytecode compiled|source]

Targets (issue 12): first answer ≤ 2 s after start, one worker under 150 MB resident.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/startup.py` puts bench/ first, not the root
    sys.path.insert(0, str(ROOT))

from bench.suite import PostgresDatabase, call, expect, free_port, postgres_reachable, stop  # noqa: E402
from bench.validate_catalogue import make_course  # noqa: E402

FIRST_ANSWER_TARGET_S = 2.0
RSS_TARGET_MB = 150.0
PASSWORD = "startup-password-1"
ENROLLED = 5  # courses the learner is enrolled in, and whose every item the warm-up opens


@dataclass
class Start:
    healthz_s: float
    lesson_s: float
    cpu_healthz_s: float  # the server's CPU time (user + system) up to /healthz's 200
    cpu_s: float  # and up to the lesson page's (the first start also registers the learner)
    rss_mb: float


@dataclass
class Result:
    database: str
    first: Start | None = None
    restarts: list[Start] = field(default_factory=list)
    warm_rss_mb: float = 0.0
    warm_hwm_mb: float = 0.0
    pages: int = 0
    learner_s: float = 0.0  # first start: registration, sign-in and enrolments, in the lesson's


def memory_mb(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM of a process, in MB (1,000,000 bytes, as the target is written)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _colon, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024 / 1e6
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, and of the children it has waited for (the
    process that fills the course cache beside the worker): what the start costs whatever
    else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def until_ok(url: str, process: subprocess.Popen[bytes], start: float, cookie: str = "") -> float:
    headers = {"Cookie": cookie} if cookie else {}
    while time.monotonic() - start < 120:
        if process.poll() is not None:
            raise SystemExit(f"bench: ecampus serve exited with {process.returncode}")
        try:
            status, _h, _body = call("GET", url, headers=headers)
            if status == 200:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"bench: {url} did not answer 200 within 120 s")


def serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ecampus.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--log-level", "warning"]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def learner(base: str) -> str:
    """Register and sign in (a live session in the database), enrol in the first courses."""
    email = f"startup-{secrets.token_hex(3)}@example.org"
    profile = {"email": email, "password": PASSWORD, "full_name": "Arranque", "institution": "",
               "institution_type": "other", "country": "GT", "language": "es"}  # fmt: skip
    status, _h, body = call("POST", f"{base}/api/v1/auth/register",
                            data=json.dumps(profile).encode(),
                            headers={"content-type": "application/json"})  # fmt: skip
    expect(status, body, "registration")
    form = urllib.parse.urlencode({"username": email, "password": PASSWORD}).encode()
    status, _h, body = call("POST", f"{base}/api/v1/auth/token", data=form)
    expect(status, body, "sign-in")
    token = str(json.loads(body)["access_token"])
    for index in range(ENROLLED):
        status, _h, body = call("POST", f"{base}/api/v1/courses/curso-{index:02d}/enroll",
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        expect(status, body, "enrolment")
    return token


def warm_up(base: str, token: str, courses: int, items: int) -> int:
    """Typical pages, twice each: what a worker holds after serving a class for a while."""
    cookie = {"Cookie": f"ecampus_session={token}"}
    bearer = {"Authorization": f"Bearer {token}"}
    # The sign-in page too: a router imported after the start (web.routes), in by then.
    paths: list[tuple[str, dict[str, str]]] = [("/", cookie), ("/api/v1/courses", bearer),
                                               ("/login", {})]  # fmt: skip
    paths += [(f"/courses/curso-{c:02d}", cookie) for c in range(courses)]
    for c in range(ENROLLED):
        course = f"/courses/curso-{c:02d}"
        for n in range(items):
            kind = "quiz" if n % 8 == 7 else "leccion"
            paths.append((f"{course}/items/{kind}-{n}", cookie))
            paths.append((f"/api/v1{course}/items/{kind}-{n}", bearer))
    for _round in range(2):
        for path, headers in paths:
            status, _h, body = call("GET", base + path, headers=headers)
            expect(status, body, path)
    return len(paths) * 2


# Every ecampus module and what uvicorn loads to serve: their bytecode, compiled once.
PRIME = """
import importlib, pkgutil, ecampus
for module in pkgutil.walk_packages(ecampus.__path__, "ecampus."):
    try:
        importlib.import_module(module.name)
    except Exception:
        pass
for name in ("uvicorn.main", "uvicorn.loops.auto", "uvicorn.loops.uvloop",
             "uvicorn.protocols.http.auto", "uvicorn.protocols.http.httptools_impl",
             "uvicorn.protocols.http.h11_impl", "uvicorn.protocols.websockets.auto",
             "uvicorn.lifespan.on", "markdown_it", "yaml", "imagesize", "psycopg"):
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""


def python_env(folder: Path, bytecode: str) -> dict[str, str]:
    """The environment of every ecampus process the bench starts."""
    env = {
        **os.environ,
        # bench/ importable; a PYTHONPATH given (another checkout's src/) comes first.
        "PYTHONPATH": os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), str(ROOT)))),
    }
    if bytecode == "compiled":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    return env


def compile_bytecode(env: dict[str, str]) -> float:
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", PRIME], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.monotonic() - began


def run(database: str, database_url: str, courses_dir: Path, args: argparse.Namespace,
        folder: Path) -> Result:  # fmt: skip
    env = {
        **python_env(folder, args.bytecode),
        "ECAMPUS_ENV": "production",
        "ECAMPUS_SECRET_KEY": secrets.token_urlsafe(48),
        "ECAMPUS_DATABASE_URL": database_url,
        "ECAMPUS_COURSES_DIR": str(courses_dir),
        "ECAMPUS_BASE_URL": "http://127.0.0.1",
        "ECAMPUS_RATE_LIMIT_EXEMPT": "127.0.0.1",
        "ECAMPUS_CACHE_DIR": str(folder / f"cache-{database}"),  # empty: the first start parses
    }
    migrate = subprocess.run([sys.executable, "-m", "ecampus.cli", "db", "upgrade"], env=env,
                             capture_output=True, text=True, check=False)  # fmt: skip
    if migrate.returncode != 0:
        raise SystemExit(f"bench: ecampus db upgrade failed:\n{migrate.stdout}{migrate.stderr}")
    result = Result(database)
    lesson = "/courses/curso-00/items/leccion-1"
    token = ""
    log = folder / f"serve-{database}.log"
    for attempt in range(args.repeat + 1):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        start = time.monotonic()
        process = serve(env, port, log)
        try:
            healthz = until_ok(f"{base}/healthz", process, start)
            cpu_healthz = cpu_seconds(process.pid)
            if not token:  # the first start: a learner for every later one
                began = time.monotonic()
                token = learner(base)
                result.learner_s = time.monotonic() - began
            cookie = f"ecampus_session={token}"
            lesson_s = until_ok(base + lesson, process, start, cookie)
            rss, _hwm = memory_mb(process.pid)
            measured = Start(healthz, lesson_s, cpu_healthz, cpu_seconds(process.pid), rss)
            if attempt == 0:
                result.first = measured
            else:
                result.restarts.append(measured)
            if attempt == args.repeat:
                result.pages = warm_up(base, token, args.courses, args.items)
                result.warm_rss_mb, result.warm_hwm_mb = memory_mb(process.pid)
        finally:
            stop(process)
        print(f"  {database} start {attempt}: /healthz {healthz:.2f} s, lesson {lesson_s:.2f} s, "
              f"CPU {measured.cpu_healthz_s:.2f} s / {measured.cpu_s:.2f} s, {rss:.0f} MB",
              flush=True)  # fmt: skip
    return result


def table(results: list[Result], args: argparse.Namespace, seconds: float) -> str:
    load = os.getloadavg()
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {seconds:.0f} s: "
        f"`python bench/startup.py --courses {args.courses} --items {args.items} "
        f"--repeat {args.repeat} --bytecode {args.bytecode}` (load average at the end "
        f"{load[0]:.1f}, {os.cpu_count()} cores)",
        "",
        "| database | start | /healthz 200 | lesson page 200 | server CPU to /healthz "
        "| to lesson page | resident (VmRSS) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if r.first:
            lines.append(f"| {r.database} | first (fresh database) | {r.first.healthz_s:.2f} s | "
                         f"{r.first.lesson_s:.2f} s | {r.first.cpu_healthz_s:.2f} s | "
                         f"{r.first.cpu_s:.2f} s | {r.first.rss_mb:.0f} MB |")  # fmt: skip
        if r.restarts:
            h = statistics.median(s.healthz_s for s in r.restarts)
            ls = statistics.median(s.lesson_s for s in r.restarts)
            cpu_h = statistics.median(s.cpu_healthz_s for s in r.restarts)
            cpu = statistics.median(s.cpu_s for s in r.restarts)
            m = statistics.median(s.rss_mb for s in r.restarts)
            lines.append(f"| {r.database} | restart (median of {len(r.restarts)}) | {h:.2f} s | "
                         f"{ls:.2f} s | {cpu_h:.2f} s | {cpu:.2f} s | {m:.0f} MB |")  # fmt: skip
        lines.append(f"| {r.database} | after {r.pages} typical pages | – | – | – | – | "
                     f"{r.warm_rss_mb:.0f} MB (peak {r.warm_hwm_mb:.0f} MB) |")  # fmt: skip
    lines.append("")
    for r in results:
        if r.first and r.learner_s:
            lines.append(
                f"{r.database}, first start: of the lesson page's {r.first.lesson_s:.2f} s, "
                f"{r.learner_s:.2f} s were the learner's registration, sign-in (an argon2 "
                f"hash and its check) and {ENROLLED} enrolments, after /healthz."
            )
    starts = [(r, s) for r in results for s in ([r.first] if r.first else []) + r.restarts]
    # The first answer is the server's first 200 (/healthz). The slowest first lesson page is
    # held to the same line once the bench's own set-up on a first start (registering the
    # learner, signing in, enrolling: client work between the two) is taken out of it.
    worst_start = max((s.healthz_s for _r, s in starts), default=0.0)
    worst_lesson = max(
        (s.lesson_s - (r.learner_s if s is r.first else 0.0) for r, s in starts), default=0.0
    )
    worst_rss = max((r.warm_hwm_mb for r in results), default=0.0)
    worst_cpu = max((s.cpu_s for r in results for s in r.restarts), default=0.0)
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        lines.append(
            "**The machine was busy** (load average above its core count): the wall-clock "
            f"times are the machine's; the server's own CPU time to the lesson page on a "
            f"restart (at most {worst_cpu:.2f} s) is what the start costs."
        )
    lines.append(
        f"Targets: first answer ≤ {FIRST_ANSWER_TARGET_S:g} s — slowest /healthz "
        f"{worst_start:.2f} s, {'met' if worst_start <= FIRST_ANSWER_TARGET_S else 'NOT met'}; "
        f"first lesson page, the bench's registration and sign-in taken out, slowest "
        f"{worst_lesson:.2f} s, "
        f"{'met' if worst_lesson <= FIRST_ANSWER_TARGET_S else 'NOT met'}; "
        f"one worker < {RSS_TARGET_MB:g} MB — highest peak {worst_rss:.0f} MB, "
        f"{'met' if worst_rss < RSS_TARGET_MB else 'NOT met'}."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=25)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="restarts after the first start")
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"),
                        default=["sqlite", "postgresql"])  # fmt: skip
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
    parser.add_argument("--bytecode", choices=("compiled", "source"), default="compiled",
                        help="compiled: as an installed server (default); source: compile "
                        "at every start, as under PYTHONDONTWRITEBYTECODE=1")  # fmt: skip
    args = parser.parse_args()
    began = time.monotonic()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="ecampus-startup-") as tmp:
        folder = Path(tmp)
        courses_dir = folder / "courses"
        courses_dir.mkdir()
        for index in range(args.courses):
            make_course(courses_dir, index, args.items)
        print(f"{args.courses} courses x {args.items} items in {courses_dir}", flush=True)
        if args.bytecode == "compiled":
            seconds = compile_bytecode(python_env(folder, args.bytecode))
            print(f"bytecode compiled in {seconds:.1f} s (untimed)", flush=True)
        for database in args.databases:
            if database == "sqlite":
                results.append(run(database, f"sqlite:///{folder / 'startup.db'}", courses_dir,
                                   args, folder))  # fmt: skip
                continue
            why = postgres_reachable(args.postgres_url)
            if why:
                print(f"PostgreSQL skipped: {args.postgres_url} is not reachable ({why})")
                continue
            with PostgresDatabase(args.postgres_url) as url:
                results.append(run(database, url, courses_dir, args, folder))
    print()
    print(table(results, args, time.monotonic() - began))


if __name__ == "__main__":
    main()
