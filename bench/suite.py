"""The benchmark suite: ecampus against the framework's real ceiling, in one bounded run.

For each database (SQLite, and a fresh PostgreSQL database that is dropped afterwards) and
each worker count, on 127.0.0.1, it starts two servers with the same uvicorn flags and worker
count: ecampus, and bench/bare_app.py (the ceiling: an `async def` route returning a constant
HTMLResponse the size of the lesson page as ecampus answers wrk; and a bare one-row insert on
the same database through the same engine settings). Learners are registered and signed in
through the API (tokens need a live session), enrolled, and given three lessons done. Then wrk
loads each target for a fixed time after a warm-up, rotating over the learners:

    ceiling, lesson page, course page, catalogue (signed in), JSON item, bare insert,
    quiz submission (POST attempts), lesson completion (POST complete)

with the ceiling measured again, for half the time, between every two targets; and the suite
prints a markdown table (req/s, p50, p99, non-2xx answers, ratio to the mean of the ceiling
measured just before and just after the target and, for writes, to the bare insert), checks
the targets of issue 12, and writes
bench/results/latest.md and bench/results/latest.json.

    python bench/suite.py [--quick] [--seconds 8] [--warmup 2] [--connections 64]
                          [--workers 1 2] [--databases sqlite postgresql]
                          [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gzip
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecampus.eventloop import UVICORN_LOOP  # what `ecampus serve` runs on, for both servers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START, DOCS_END = "<!-- bench:latest:start -->", "<!-- bench:latest:end -->"
COURSE = "codigo-migracion"
QUIZ = "evaluacion-generalidades"  # max_attempts: 3 in the bundled course; raised in the copy
BENCH_MAX_ATTEMPTS = 1_000_000
PASSWORD = "bench-password-1"
SETUP_SECONDS = 20  # per configuration: migrations, two servers (estimate; + 0.3 s a learner)

READS = ("lesson page", "course page", "catalogue", "JSON item")
BETWEEN = "ceiling, between targets"
WRITES = ("quiz submission", "lesson completion")

# Targets of issue 12 (ratios to the ceiling measured in the same run).
LESSON_TARGET = 0.30
PAGE_TARGET = 0.25
QUIZ_TARGET = 0.50
P99_TARGET_MS = 50.0
POSTGRES_TARGET = 0.80
WRK_THREADS = 2
BUSY_LOAD = 3.0  # a load average above this before a configuration makes its figures noise

LUA = r"""
-- Each wrk thread takes every n-th request of the list (n threads), so two threads never send the
-- same learner's requests; within a thread, connections take the next request in turn.
local specs = {SPECS}
local threads = THREADS
local requests = {}
local position = 0
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

function init(args)
  for i, s in ipairs(specs) do
    if #specs < threads or (i - 1) % threads == index then
      requests[#requests + 1] = wrk.format(s[1], s[2], s[3], s[4])
    end
  end
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non2xx": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass
class Measure:
    target: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: int
    vs_ceiling: float | None = None
    vs_insert: float | None = None
    ceiling_rps: float | None = None  # the ceiling it is compared with (measured beside it)


@dataclass
class Configuration:
    database: str
    workers: int
    page_bytes: int = 0
    first_answer_s: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    measures: list[Measure] = field(default_factory=list)

    def get(self, target: str) -> Measure | None:
        return next((m for m in self.measures if m.target == target), None)


# -- helpers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def expect(status: int, body: bytes, what: str) -> None:
    if not 200 <= status < 300:
        raise SystemExit(f"bench: {what} answered {status}: {body[:300]!r}")


def wait_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> float:
    """Seconds until `url` first answers 200."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if process.poll() is not None:
            raise SystemExit(f"bench: the server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench: the server at {url} did not answer within {seconds:.0f} s")


def serve(app: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """uvicorn with the flags `ecampus serve --no-access-log` uses, for both servers alike."""
    command = [
        sys.executable, "-m", "uvicorn", app, "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1",
        "--no-access-log", "--log-level", "warning", "--loop", UVICORN_LOOP,
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def lua_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def lua_script(requests: list[Request]) -> str:
    specs = []
    for r in requests:
        headers = ", ".join(f"[ {lua_string(k)} ] = {lua_string(v)}" for k, v in r.headers.items())
        body = lua_string(r.body) if r.body is not None else "nil"
        specs.append(f"{{{lua_string(r.method)}, {lua_string(r.path)}, {{{headers}}}, {body}}}")
    return LUA.replace("{SPECS}", "{\n  " + ",\n  ".join(specs) + "\n}").replace(
        "THREADS", str(WRK_THREADS)
    )


def wrk(
    base: str, requests: list[Request], seconds: float, connections: int, folder: Path
) -> dict[str, Any]:
    script = folder / "bench.lua"
    script.write_text(lua_script(requests), encoding="utf-8")
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
               "-s", str(script), base]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    found = re.search(r"^BENCH (\{.*\})$", run.stdout, re.MULTILINE)
    if run.returncode != 0 or not found:
        raise SystemExit(
            f"bench: wrk failed on {base}{requests[0].path}:\n{run.stdout}{run.stderr}"
        )
    result: dict[str, Any] = json.loads(found.group(1))
    return result


def measure(
    target: str,
    base: str,
    requests: list[Request],
    args: argparse.Namespace,
    folder: Path,
    *,
    short: bool = False,
) -> Measure:
    """`short`: the ceiling between two targets, its server already warm (between_seconds)."""
    # One probe first: a target that fails outright is a broken set-up, not a figure.
    probe = requests[0]
    status, _headers, body = call(
        probe.method,
        base + probe.path,
        data=probe.body.encode() if probe.body is not None else None,
        headers=probe.headers,
    )
    expect(status, body, f"{target} ({probe.method} {probe.path})")
    seconds, warmup = between_seconds(args) if short else (args.seconds, args.warmup)
    if warmup:
        wrk(base, requests, warmup, args.connections, folder)
    raw = wrk(base, requests, seconds, args.connections, folder)
    seconds = raw["duration_us"] / 1e6
    result = Measure(
        target=target,
        rps=raw["requests"] / seconds,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        requests=raw["requests"],
        non2xx=raw["non2xx"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
    )
    print(
        f"  {target:<18} {result.rps:8.0f} req/s  p50 {result.p50_ms:7.1f} ms  "
        f"p99 {result.p99_ms:7.1f} ms  non-2xx {result.non2xx}",
        flush=True,
    )
    return result


def between_seconds(args: argparse.Namespace) -> tuple[int, int]:
    """The ceiling between two targets: half the time, after a second's warm-up (new
    connections to a warm server; wrk takes whole seconds)."""
    return max(1, round(args.seconds / 2)), 1 if args.warmup else 0


# -- set-up ------------------------------------------------------------------------------------


def app_env(database_url: str, courses: Path) -> dict[str, str]:
    """ecampus's settings for a benchmark: production, a fresh secret, the bench courses."""
    return {
        "ECAMPUS_ENV": "production",
        "ECAMPUS_SECRET_KEY": secrets.token_urlsafe(48),
        "ECAMPUS_DATABASE_URL": database_url,
        "ECAMPUS_COURSES_DIR": str(courses),
        "ECAMPUS_WATCH_COURSES": "false",
        # Every benchmark learner signs in from 127.0.0.1: the per-address sign-in and
        # registration limits would stop the set-up (they are not on the measured routes).
        "ECAMPUS_RATE_LIMIT_EXEMPT": "127.0.0.1",
        "ECAMPUS_BASE_URL": "http://127.0.0.1",
    }


def bench_courses(folder: Path) -> Path:
    """A copy of the bundled courses in which the benchmarked quiz allows many attempts, so
    that quiz submissions measure grading and storing, not 409 'no attempts left'."""
    target = folder / "courses"
    shutil.copytree(ROOT / "courses", target)
    course_yaml = target / COURSE / "course.yaml"
    text = course_yaml.read_text(encoding="utf-8")
    marker = f"      - id: {QUIZ}\n"
    start = text.index(marker)
    end = text.index("\n      - id: ", start + len(marker))
    block = text[start:end]
    patched = re.sub(r"max_attempts: \d+", f"max_attempts: {BENCH_MAX_ATTEMPTS}", block, count=1)
    if patched == block:
        raise SystemExit(f"bench: {QUIZ} in {COURSE} no longer sets max_attempts")
    course_yaml.write_text(text[:start] + patched + text[end:], encoding="utf-8")
    return target


def quiz_answers(courses: Path) -> dict[str, Any]:
    """Correct answers to the benchmarked quiz, in the shape the API accepts."""
    from ecampus.courses.content import QuizContent
    from ecampus.courses.loader import load_catalogue
    from ecampus.quizzes.grading import correct_answer

    loaded = load_catalogue([courses], render=False)
    quiz = loaded.courses[COURSE].items[QUIZ]
    assert isinstance(quiz, QuizContent)
    return {q.id: correct_answer(q) for q in quiz.questions}


def lessons_of(base: str) -> list[str]:
    status, _h, body = call("GET", f"{base}/api/v1/courses/{COURSE}")
    expect(status, body, "the course outline")
    outline = json.loads(body)
    return [i["id"] for m in outline["modules"] for i in m["items"] if i["type"] == "lesson"]


def make_learner(base: str, tag: str, n: int, lessons: list[str]) -> str:
    """Register, sign in through the API (a live session), enrol, finish three lessons."""
    email = f"bench-{tag}-{n}@example.org"
    profile = {"email": email, "password": PASSWORD, "full_name": f"Bench {n}",
               "institution": "", "institution_type": "other", "country": "GT", "language": "es"}  # fmt: skip
    status, _h, body = call("POST", f"{base}/api/v1/auth/register",
                            data=json.dumps(profile).encode(),
                            headers={"content-type": "application/json"})  # fmt: skip
    expect(status, body, "registration")
    form = urllib.parse.urlencode({"username": email, "password": PASSWORD}).encode()
    status, _h, body = call("POST", f"{base}/api/v1/auth/token", data=form)
    expect(status, body, "sign-in")
    token = str(json.loads(body)["access_token"])
    auth = {"Authorization": f"Bearer {token}"}
    status, _h, body = call("POST", f"{base}/api/v1/courses/{COURSE}/enroll", headers=auth)
    expect(status, body, "enrolment")
    for lesson in lessons[:3]:
        status, _h, body = call(
            "POST", f"{base}/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth
        )
        expect(status, body, "lesson completion")
    return token


JSON_POST = {"Content-Type": "application/json"}


def app_plan(lessons: list[str], tokens: list[str], courses: Path) -> dict[str, list[Request]]:
    """ecampus's targets, each a list of requests rotating over the learners."""
    cookies = [{"Cookie": f"ecampus_session={t}"} for t in tokens]
    bearers = [{"Authorization": f"Bearer {t}"} for t in tokens]
    answers = json.dumps({"answers": quiz_answers(courses)})
    course = f"/courses/{COURSE}"
    return {
        "lesson page": [Request("GET", f"{course}/items/{lessons[3]}", c) for c in cookies],
        "course page": [Request("GET", course, c) for c in cookies],
        "catalogue": [Request("GET", "/", c) for c in cookies],
        "JSON item": [Request("GET", f"/api/v1{course}/items/{lessons[3]}", b) for b in bearers],
        "quiz submission": [
            Request("POST", f"/api/v1{course}/items/{QUIZ}/attempts", {**b, **JSON_POST}, answers)
            for b in bearers
        ],
        "lesson completion": [
            Request("POST", f"/api/v1{course}/items/{lesson}/complete", b)
            for lesson in lessons
            for b in bearers
        ],
    }


def wire_bytes(base: str, path: str, cookie: str, assets: bool) -> int:
    """Bytes on the wire (gzip, headers included) of a page, and of its assets if asked."""
    headers = {"Cookie": cookie, "Accept-Encoding": "gzip"}
    _s, response_headers, body = call("GET", base + path, headers=headers)
    total = len(body) + sum(len(k) + len(v) + 4 for k, v in response_headers.items())
    if assets:
        html = gzip.decompress(body).decode() if body[:2] == b"\x1f\x8b" else body.decode()
        for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
            _s, asset_headers, asset_body = call(
                "GET", base + asset, headers={"Accept-Encoding": "gzip"}
            )
            total += len(asset_body) + sum(len(k) + len(v) + 4 for k, v in asset_headers.items())
    return total


class PostgresDatabase:
    """A fresh database on the server of `url`, dropped on exit."""

    def __init__(self, url: str) -> None:
        self.admin_url = url
        self.name = f"ecampus_bench_{secrets.token_hex(4)}"
        parts = urllib.parse.urlsplit(url)
        self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))

    def _execute(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(statement)

    def __enter__(self) -> str:
        self._execute(f'CREATE DATABASE "{self.name}"')
        return self.url

    def __exit__(self, *_exc: object) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def postgres_reachable(url: str) -> str | None:
    """None when a database can be created there, else why not."""
    try:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except Exception as exc:
        return str(exc).strip().splitlines()[0]
    return None


# -- one configuration -------------------------------------------------------------------------


def run_configuration(
    database: str, database_url: str, workers: int, args: argparse.Namespace, folder: Path
) -> tuple[Configuration, dict[str, int]]:
    config = Configuration(database=database, workers=workers, load_before=os.getloadavg()[0])
    print(f"\n{database}, {workers} worker{'s' if workers > 1 else ''}", flush=True)
    courses = bench_courses(folder)
    env = {**os.environ, **app_env(database_url, courses), "PYTHONPATH": str(ROOT)}
    migrate = subprocess.run([sys.executable, "-m", "ecampus.cli", "db", "upgrade"], env=env,
                             capture_output=True, text=True, check=False)  # fmt: skip
    if migrate.returncode != 0:
        raise SystemExit(f"bench: ecampus db upgrade failed:\n{migrate.stdout}{migrate.stderr}")
    create_insert_table(database_url)

    app_port, bare_port = free_port(), free_port()
    # What `ecampus serve` runs (ecampus.cli.serve_app: the start-up objects frozen out of
    # the garbage collector's walks), with the same uvicorn flags as the ceiling.
    app = serve("ecampus.cli:serve_app", app_port, workers, env)
    servers = [app]
    weights: dict[str, int] = {}
    try:
        base = f"http://127.0.0.1:{app_port}"
        config.first_answer_s = wait_up(f"{base}/healthz", app)
        lessons = lessons_of(base)
        tag = secrets.token_hex(3)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            tokens = list(
                pool.map(lambda n: make_learner(base, tag, n, lessons), range(args.learners))
            )
        lesson_path = f"/courses/{COURSE}/items/{lessons[3]}"

        # The ceiling serves as many bytes as the lesson page does to wrk (which sends no
        # Accept-Encoding): measured, not assumed.
        status, headers, body = call("GET", base + lesson_path,
                                     headers={"Cookie": f"ecampus_session={tokens[0]}"})  # fmt: skip
        expect(status, body, "the lesson page")
        if headers.get("content-encoding", headers.get("Content-Encoding")):
            raise SystemExit("bench: the lesson page came compressed without Accept-Encoding")
        config.page_bytes = len(body)
        if database == "sqlite" and workers == args.workers[0]:
            cookie = f"ecampus_session={tokens[0]}"
            weights["first_visit"] = wire_bytes(base, lesson_path, cookie, assets=True)
            next_path = f"/courses/{COURSE}/items/{lessons[4]}"
            weights["next_lesson"] = wire_bytes(base, next_path, cookie, assets=False)

        bare_env = {**env, "BENCH_PAGE_BYTES": str(len(body)), "BENCH_DATABASE_URL": database_url}
        bare = serve("bench.bare_app:create_app", bare_port, workers, bare_env)
        servers.append(bare)
        bare_base = f"http://127.0.0.1:{bare_port}"
        wait_up(f"{bare_base}/", bare)
        status, _h, ceiling_body = call("GET", f"{bare_base}/")
        if len(ceiling_body) != len(body):
            raise SystemExit(f"bench: the ceiling sends {len(ceiling_body)} bytes, not {len(body)}")

        app_requests = app_plan(lessons, tokens, courses)
        at_ceiling = [Request("GET", "/")]
        ceiling = ("ceiling", bare_base, at_ceiling)
        insert_one = ("bare insert", bare_base, [Request("POST", "/insert", JSON_POST, "{}")])
        reads = [t for t in READS if t in args.targets]
        writes = [t for t in WRITES if t in args.targets]
        targets = [*((t, base, app_requests[t]) for t in reads),
                   *([insert_one] if writes else []),
                   *((t, base, app_requests[t]) for t in writes)]  # fmt: skip
        # The ceiling first, between every two targets (shorter) and again at the end: each
        # target is compared with the mean of the ceiling measured just before and just
        # after it, so that a machine that speeds up or slows down during the configuration
        # (a shared host: the ceiling was seen to move by a third between the first and
        # the last) moves both sides of its ratio alike.
        plan: list[tuple[str, str, list[Request], bool]] = [(*ceiling, False)]
        for n, step in enumerate(targets):
            if n:
                plan.append((BETWEEN, bare_base, at_ceiling, True))
            plan.append((*step, False))
        plan.append(("ceiling, again", bare_base, at_ceiling, False))
        for name, target_base, requests, short in plan:
            config.measures.append(measure(name, target_base, requests, args, folder, short=short))
    finally:
        for server in servers:
            stop(server)
    config.load_after = os.getloadavg()[0]
    insert_measure = config.get("bare insert")
    measures = config.measures
    for n, m in enumerate(measures):
        if m.target.startswith("ceiling"):
            continue
        before = next(c for c in reversed(measures[:n]) if c.target.startswith("ceiling"))
        after = next(c for c in measures[n + 1 :] if c.target.startswith("ceiling"))
        m.ceiling_rps = (before.rps + after.rps) / 2
        m.vs_ceiling = m.rps / m.ceiling_rps
        if insert_measure and m.target in WRITES:
            m.vs_insert = m.rps / insert_measure.rps
    return config, weights


def create_insert_table(url: str) -> None:
    if str(ROOT) not in sys.path:  # `python bench/suite.py` puts bench/ first, not the root
        sys.path.insert(0, str(ROOT))
    from bench.bare_app import metadata
    from ecampus.db import make_engine

    engine = make_engine(url, pool_size=1)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


# -- targets and report ------------------------------------------------------------------------


@dataclass
class Check:
    target: str
    measured: str
    required: str
    met: bool


def percent(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def checks(configs: list[Configuration], connections: int) -> list[Check]:
    found: list[Check] = []
    for c in configs:
        where = f"{c.database}, {c.workers} worker{'s' if c.workers > 1 else ''}"
        lesson = c.get("lesson page")
        if c.workers == 1 and lesson and lesson.vs_ceiling is not None:
            found.append(Check(f"lesson page / ceiling ({where})", percent(lesson.vs_ceiling),
                               "≥ 30 %", lesson.vs_ceiling >= LESSON_TARGET))  # fmt: skip
        for name in ("course page", "catalogue", "JSON item"):
            m = c.get(name)
            if m and m.vs_ceiling is not None:
                found.append(Check(f"{name} / ceiling ({where})", percent(m.vs_ceiling),
                                   "≥ 25 %", m.vs_ceiling >= PAGE_TARGET))  # fmt: skip
        quiz = c.get("quiz submission")
        if quiz and quiz.vs_insert is not None:
            found.append(Check(f"quiz submission / bare insert ({where})", percent(quiz.vs_insert),
                               "≥ 50 %", quiz.vs_insert >= QUIZ_TARGET))  # fmt: skip
        if c.workers == 2:
            for m in c.measures:
                if m.target in READS + WRITES:
                    found.append(Check(
                        f"{m.target} p99 at {connections} connections ({where})",
                        f"{m.p99_ms:.1f} ms", "< 50 ms",
                        m.p99_ms < P99_TARGET_MS and connections >= 64,
                    ))  # fmt: skip
    by_key = {(c.database, c.workers): c for c in configs}
    for (database, workers), pg in by_key.items():
        if database != "postgresql" or ("sqlite", workers) not in by_key:
            continue
        lite = by_key[("sqlite", workers)]
        for name in READS + WRITES:
            p, s = pg.get(name), lite.get(name)
            if not p or not s:
                continue
            # Writes are compared with the bare insert on their own database, reads with the
            # ceiling (the ratios the targets use).
            ratio_p = p.vs_insert if name in WRITES else p.vs_ceiling
            ratio_s = s.vs_insert if name in WRITES else s.vs_ceiling
            if ratio_p is None or not ratio_s:
                continue
            relative = ratio_p / ratio_s
            found.append(Check(f"{name}: PostgreSQL ratio / SQLite ratio ({workers} worker"
                               f"{'s' if workers > 1 else ''})", percent(relative), "≥ 80 %",
                               relative >= POSTGRES_TARGET))  # fmt: skip
    return found


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    import uvicorn

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "uvicorn": uvicorn.__version__,
        "wrk": (wrk_version.stdout + wrk_version.stderr).split("[")[0].strip(),
    }


def report(
    configs: list[Configuration],
    found: list[Check],
    weights: dict[str, int],
    args: argparse.Namespace,
    started: datetime,
    command: str,
    info: dict[str, Any],
    skipped: list[str],
    elapsed: float,
) -> str:
    lines = [
        f"Run {started:%Y-%m-%d %H:%M} UTC{' (--quick: indicative only)' if args.quick else ''}, "
        f"{elapsed / 60:.1f} minutes: `{command}`",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']}; {info['os']}; "
        f"Python {info['python']}, uvicorn {info['uvicorn']}, {info['wrk']}. "
        f"wrk -t2 -c{args.connections}, {args.warmup:g} s warm-up, {args.seconds:g} s measured "
        f"per target; {args.learners} learners; each target's ratio is to the mean of the "
        f"ceiling measured just before and just after it (between two targets for "
        f"{between_seconds(args)[0]} s after a {between_seconds(args)[1]} s warm-up: the column "
        f"'ceiling beside it'); load generator, servers and database share the machine.",
        "",
        "| database | workers | target | req/s | p50 | p99 | non-2xx | ceiling beside it "
        "| vs ceiling | vs bare insert |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in configs:
        for m in c.measures:
            if m.target == BETWEEN:
                continue  # in the column 'ceiling beside it' (and the JSON results)
            errors = f"{m.non2xx}" + (f" (+{m.socket_errors} socket)" if m.socket_errors else "")
            beside = "–" if m.ceiling_rps is None else f"{m.ceiling_rps:,.0f}"
            lines.append(
                f"| {c.database} | {c.workers} | {m.target} | {m.rps:,.0f} | {m.p50_ms:.1f} ms | "
                f"{m.p99_ms:.1f} ms | {errors} | {beside} | {percent(m.vs_ceiling)} "
                f"| {percent(m.vs_insert)} |"
            )
    lines += ["", "| configuration | lesson page bytes (ceiling's size) | first answer after start | load average before → after |",
              "| --- | ---: | ---: | --- |"]  # fmt: skip
    for c in configs:
        lines.append(f"| {c.database}, {c.workers} worker{'s' if c.workers > 1 else ''} | {c.page_bytes:,} | "
                     f"{c.first_answer_s:.1f} s | {c.load_before:.1f} → {c.load_after:.1f} |")  # fmt: skip
    if weights:
        lines += ["", f"Page weight (gzip, headers included): first lesson visit with CSS and JS "
                  f"{weights['first_visit'] / 1024:.1f} KB (target 60 KB); next lesson HTML "
                  f"{weights['next_lesson'] / 1024:.1f} KB (target 10 KB)."]  # fmt: skip
    busiest = max((c.load_before for c in configs), default=0.0)
    if busiest >= BUSY_LOAD:
        lines += ["", f"**The machine was busy** (load average up to {busiest:.1f} on "
                  f"{info['cores']} cores before a configuration): these figures are noise."]  # fmt: skip
    met = sum(check.met for check in found)
    lines += ["", f"Targets (issue 12): {met} of {len(found)} met.", "",
              "| target | measured | required | met |", "| --- | ---: | ---: | --- |"]  # fmt: skip
    for check in found:
        verdict = "met" if check.met else "NOT met"
        lines.append(f"| {check.target} | {check.measured} | {check.required} | {verdict} |")
    for why in skipped:
        lines += ["", f"Skipped: {why}"]
    return "\n".join(lines) + "\n"


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="3 s per target after a 1 s warm-up, 16 learners: to check the suite")  # fmt: skip
    parser.add_argument(
        "--seconds", type=float, default=None, help="measured seconds per target (8)"
    )
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds per target (2)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--learners", type=int, default=None,
                        help="learners to rotate over (as many as connections; 16 with --quick)")  # fmt: skip
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--targets", nargs="+", choices=(*READS, *WRITES),
                        default=[*READS, *WRITES],
                        help="what to measure besides the ceiling (all; the bare insert with any write)")  # fmt: skip
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"),
                        default=["sqlite", "postgresql"])  # fmt: skip
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a server where a fresh database may be created and dropped (BENCH_POSTGRES_URL)")  # fmt: skip
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--update-docs", action="store_true",
                        help=f"also put the report in {DOCS.relative_to(ROOT)} (Latest results)")  # fmt: skip
    args = parser.parse_args()
    for name in ("seconds", "warmup", "connections", "learners"):
        value = getattr(args, name)
        if value is not None and (value < 0 or (value == 0 and name != "warmup")):
            parser.error(f"--{name} must be positive")
    if any(w < 1 for w in args.workers):
        parser.error("--workers must be at least 1")
    args.seconds = args.seconds or (3.0 if args.quick else 8.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    # As many learners as connections: no learner has two requests in flight at once (their
    # concurrent quiz submissions would compete for the same attempt number).
    args.learners = args.learners or (16 if args.quick else args.connections)

    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed; install it with:  sudo apt-get install wrk")
    skipped: list[str] = []
    databases = list(args.databases)
    if "postgresql" in databases:
        why = postgres_reachable(args.postgres_url)
        if why:
            databases.remove("postgresql")
            skipped.append(f"PostgreSQL at {args.postgres_url} is not reachable ({why}); "
                           "set --postgres-url or BENCH_POSTGRES_URL")  # fmt: skip
            print(f"bench: {skipped[-1]}", file=sys.stderr)
    if not databases:
        raise SystemExit("bench: nothing left to measure")
    runs = len(databases) * len(args.workers)
    runs_each = 2 + len(args.targets) + any(t in WRITES for t in args.targets)
    between = runs_each - 3  # the short ceilings between two targets
    per_config = (
        runs_each * (args.seconds + args.warmup)
        + between * sum(between_seconds(args))
        + SETUP_SECONDS
        + 0.3 * args.learners
    )
    print(
        f"bench: {runs} configuration{'s' if runs != 1 else ''} ({' and '.join(databases)}; "
        f"workers: {' and '.join(map(str, args.workers))}), "
        f"{runs_each} runs each, {args.warmup:g} s warm-up + {args.seconds:g} s: about "
        f"{runs * per_config / 60:.1f} minutes on a quiet machine. Load average now: "
        f"{os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if os.getloadavg()[0] >= BUSY_LOAD:
        print(f"bench: warning: the machine is busy (load average {os.getloadavg()[0]:.1f}); "
              "its figures will be noise", file=sys.stderr, flush=True)  # fmt: skip
    command = " ".join(["python", "bench/suite.py", *sys.argv[1:]])
    started = datetime.now(UTC)
    configs: list[Configuration] = []
    weights: dict[str, int] = {}
    for database in databases:
        for workers in args.workers:
            with tempfile.TemporaryDirectory(prefix="ecampus-bench-") as tmp:
                folder = Path(tmp)
                if database == "sqlite":
                    config, w = run_configuration(
                        database, f"sqlite:///{folder}/bench.db", workers, args, folder
                    )
                else:
                    with PostgresDatabase(args.postgres_url) as url:
                        config, w = run_configuration(database, url, workers, args, folder)
                configs.append(config)
                weights.update(w)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    found = checks(configs, args.connections)
    info = machine()
    text = report(configs, found, weights, args, started, command, info, skipped, elapsed)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "latest.md").write_text(text, encoding="utf-8")
    data = {
        "started": started.isoformat(),
        "elapsed_seconds": round(elapsed, 1),
        "command": command,
        "quick": args.quick,
        "machine": info,
        "settings": {
            k: args.__dict__[k] for k in ("seconds", "warmup", "connections", "learners", "workers")
        },
        "configurations": [asdict(c) for c in configs],
        "page_weight_bytes": weights,
        "targets": [asdict(c) for c in found],
        "skipped": skipped,
    }
    (args.results / "latest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    print("\n" + text)
    print(f"bench: written to {args.results / 'latest.md'} and latest.json")
    if args.update_docs:
        update_docs(text)
        print(f"bench: and to {DOCS.relative_to(ROOT)}")


def update_docs(text: str) -> None:
    """Replace the report between the markers of docs/benchmarks.md."""
    docs = DOCS.read_text(encoding="utf-8")
    start, end = docs.index(DOCS_START) + len(DOCS_START), docs.index(DOCS_END)
    DOCS.write_text(docs[:start] + "\n" + text + docs[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
