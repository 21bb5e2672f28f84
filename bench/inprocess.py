"""Where a request's time goes without uvicorn, the network or a load generator in the way.

Builds ecampus as bench/suite.py does (production settings, a fresh database, the bench copy of
the bundled courses, learners enrolled with three lessons done) and the ceiling app
(bench/bare_app.py), then calls both ASGI apps directly from one event loop: sequentially
(`--concurrency 1`: what one request costs, wall time, the thread-pool hop's wake-ups
included) or from several tasks at once. It prints microseconds per request for the ceiling,
the bare insert and each target, and with `--profile` a cProfile of the event loop's thread
(worker threads are not seen: time a thread's work directly, or use bench/profile.py, which
samples a real server with py-spy).

    python bench/inprocess.py [--targets lesson course catalogue json quiz complete]
                              [--requests 3000] [--concurrency 1] [--profile] [--top 40]
                              [--database-url postgresql://...]   (a database it may migrate)

This is for finding costs and comparing two versions of the code on one machine, one after
the other; the targets of issue 12 are measured by bench/suite.py (wrk against uvicorn).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/inprocess.py` puts bench/ first on the path, where bench/profile.py would
# stand for the standard library's profile module (cProfile imports it): the root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import suite  # noqa: E402

ASGIApp = Callable[..., Awaitable[None]]
Call = tuple[str, str, list[tuple[str, str]], bytes]
TARGETS = ("lesson", "course", "catalogue", "json", "quiz", "complete")
WRITES = ("quiz", "complete")


def scope_for(method: str, path: str, headers: list[tuple[str, str]], state: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
        "state": dict(state),
    }


async def call(app: ASGIApp, state: dict[str, Any], request: Call) -> tuple[int, bytes]:
    method, path, headers, body = request
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope_for(method, path, headers, state), receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


CPU = [0.0]  # the last timed() call's CPU per request, µs


async def timed(
    app: ASGIApp, state: dict[str, Any], requests: list[Call], n: int, concurrency: int
) -> float:
    """Microseconds per request over n requests (rotating over `requests`): wall time, and
    this process's CPU time (every thread) in `CPU[0]`."""
    failures: list[int] = []

    async def one(i: int) -> None:
        status, _body = await call(app, state, requests[i % len(requests)])
        if status >= 300:
            failures.append(status)

    started, cpu = time.perf_counter(), time.process_time()
    if concurrency <= 1:
        for i in range(n):
            await one(i)
    else:
        numbers = iter(range(n))

        async def worker() -> None:
            for i in numbers:
                await one(i)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    CPU[0] = (time.process_time() - cpu) / n * 1e6
    if failures:
        raise SystemExit(f"bench: {len(failures)} requests failed, e.g. {failures[0]}")
    return elapsed / n * 1e6


async def learners(app: ASGIApp, state: dict[str, Any], count: int) -> tuple[list[str], list[str]]:
    """Register, sign in, enrol and finish three lessons, as bench/suite.py's learners."""
    json_type = [("content-type", "application/json")]
    _status, body = await call(app, state, ("GET", f"/api/v1/courses/{suite.COURSE}", [], b""))
    outline = json.loads(body)
    lessons = [i["id"] for m in outline["modules"] for i in m["items"] if i["type"] == "lesson"]
    tokens = []
    for n in range(count):
        email = f"inprocess-{n}@example.org"
        profile = {"email": email, "password": suite.PASSWORD, "full_name": f"Bench {n}",
                   "institution": "", "institution_type": "other", "country": "GT", "language": "es"}  # fmt: skip
        await call(app, state, ("POST", "/api/v1/auth/register", json_type, json.dumps(profile).encode()))  # fmt: skip
        form = urllib.parse.urlencode({"username": email, "password": suite.PASSWORD}).encode()
        form_type = [("content-type", "application/x-www-form-urlencoded")]
        status, body = await call(app, state, ("POST", "/api/v1/auth/token", form_type, form))
        if status != 200:
            raise SystemExit(f"bench: sign-in answered {status}: {body[:200]!r}")
        token = json.loads(body)["access_token"]
        tokens.append(token)
        auth = [("authorization", f"Bearer {token}")]
        await call(app, state, ("POST", f"/api/v1/courses/{suite.COURSE}/enroll", auth, b""))
        for lesson in lessons[:3]:
            path = f"/api/v1/courses/{suite.COURSE}/items/{lesson}/complete"
            await call(app, state, ("POST", path, auth, b""))
    return lessons, tokens


def plans(lessons: list[str], tokens: list[str], answers: dict[str, Any]) -> dict[str, list[Call]]:
    course = f"/courses/{suite.COURSE}"
    cookies = [[("cookie", f"ecampus_session={t}")] for t in tokens]
    bearers = [[("authorization", f"Bearer {t}")] for t in tokens]
    attempt = json.dumps({"answers": answers}).encode()
    return {
        "lesson": [("GET", f"{course}/items/{lessons[3]}", c, b"") for c in cookies],
        "course": [("GET", course, c, b"") for c in cookies],
        "catalogue": [("GET", "/", c, b"") for c in cookies],
        "json": [("GET", f"/api/v1{course}/items/{lessons[3]}", b, b"") for b in bearers],
        "quiz": [
            (
                "POST",
                f"/api/v1{course}/items/{suite.QUIZ}/attempts",
                [*b, ("content-type", "application/json")],
                attempt,
            )
            for b in bearers
        ],
        "complete": [
            ("POST", f"/api/v1{course}/items/{lessons[1]}/complete", b, b"") for b in bearers
        ],
    }


async def run(args: argparse.Namespace, folder: Path) -> None:
    import cProfile
    import pstats

    from bench.bare_app import create_app as create_bare
    from ecampus.app import create_app

    app, bare = create_app(), create_bare()
    async with app.router.lifespan_context(app) as app_state, bare.router.lifespan_context(bare) as bare_state:  # fmt: skip
        state, bare_st = dict(app_state or {}), dict(bare_state or {})
        lessons, tokens = await learners(app, state, args.learners)
        requests = plans(lessons, tokens, suite.quiz_answers(Path(os.environ["ECAMPUS_COURSES_DIR"])))  # fmt: skip
        ceiling: list[Call] = [("GET", "/", [], b"")]
        insert: list[Call] = [("POST", "/insert", [("content-type", "application/json")], b"{}")]
        await timed(bare, bare_st, ceiling, 300, 1)  # warm-up
        n = args.requests
        print(f"ceiling: {await timed(bare, bare_st, ceiling, n, args.concurrency):,.0f} µs, CPU {CPU[0]:,.0f} µs")  # fmt: skip
        print(f"bare insert: {await timed(bare, bare_st, insert, n // 5, args.concurrency):,.0f} µs, CPU {CPU[0]:,.0f} µs")  # fmt: skip
        for target in args.targets:
            count = n // 5 if target in WRITES else n
            await timed(app, state, requests[target], 50, 1)  # warm-up: templates, caches
            micros = await timed(app, state, requests[target], count, args.concurrency)
            print(f"{target}: {micros:,.0f} µs, CPU {CPU[0]:,.0f} µs")
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await timed(app, state, requests[target], count, args.concurrency)
                profiler.disable()
                pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS[:4]))
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--learners", type=int, default=8)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--profile", action="store_true", help="cProfile the event loop's thread")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ecampus-inprocess-"))
    try:
        courses = suite.bench_courses(folder)
        url = args.database_url or f"sqlite:///{folder}/ecampus.db"
        os.environ.update(suite.app_env(url, courses))
        os.environ.update({"BENCH_PAGE_BYTES": "11207", "BENCH_DATABASE_URL": url})
        migrate = subprocess.run([sys.executable, "-m", "ecampus.cli", "db", "upgrade"],
                                 capture_output=True, text=True, check=False)  # fmt: skip
        if migrate.returncode != 0:
            raise SystemExit(f"bench: ecampus db upgrade failed:\n{migrate.stderr}")
        suite.create_insert_table(url)
        asyncio.run(run(args, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
