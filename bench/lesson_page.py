"""Measure a logged-in lesson page against the bare FastAPI ceiling, in the same run.

Starts both servers on loopback with the same uvicorn settings, loads each with wrk for a
fixed time, and prints requests per second and the ratio. Also reports the bytes on the wire
of a first lesson visit (HTML + CSS + JS, gzip) and of a further lesson navigation.

    python bench/lesson_page.py [--seconds 10] [--connections 32] [--workers 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COURSE = "codigo-migracion"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


def call(
    method: str, url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> bytes:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def serve(
    app: str, port: int, workers: int, env: dict[str, str], factory: bool
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    if factory:
        command.append("--factory")
    return subprocess.Popen(command, env=env, cwd=ROOT)


def wrk(url: str, seconds: int, connections: int, cookie: str | None = None) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} failed responses\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]


def wire_bytes(base: str, path: str, cookie: str, assets: bool) -> int:
    headers = {"Cookie": cookie, "Accept-Encoding": "gzip"}
    request = urllib.request.Request(base + path, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        total = len(body) + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    if assets:
        html = gzip.decompress(body).decode() if body[:2] == b"\x1f\x8b" else body.decode()
        for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
            asset_request = urllib.request.Request(
                base + asset, headers={"Accept-Encoding": "gzip"}
            )
            with urllib.request.urlopen(asset_request, timeout=10) as response:
                total += len(response.read()) + sum(
                    len(k) + len(v) + 4 for k, v in response.headers.items()
                )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    tmp = Path(tempfile.mkdtemp(prefix="ecampus-bench-"))
    env = {
        **os.environ,
        "ECAMPUS_ENV": "production",
        "ECAMPUS_SECRET_KEY": secrets.token_urlsafe(48),
        "ECAMPUS_DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.db"),
        "ECAMPUS_COURSES_DIR": str(ROOT / "courses"),
        "ECAMPUS_WATCH_COURSES": "false",
    }
    subprocess.run([sys.executable, "-m", "ecampus.cli", "db", "upgrade"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    app_port, bare_port = free_port(), free_port()
    servers = [
        serve("ecampus.app:create_app", app_port, args.workers, env, factory=True),
        serve(
            "bench.bare_app:app",
            bare_port,
            args.workers,
            {**env, "PYTHONPATH": str(ROOT)},
            factory=False,
        ),
    ]
    try:
        base = f"http://127.0.0.1:{app_port}"
        wait(f"{base}/healthz")
        wait(f"http://127.0.0.1:{bare_port}/")
        profile = {"email": "bench@example.org", "password": "bench-password-1", "full_name": "Bench",
                   "institution": "", "institution_type": "other", "country": "GT", "language": "es"}  # fmt: skip
        call("POST", f"{base}/api/v1/auth/register", data=json.dumps(profile).encode(),
             headers={"content-type": "application/json"})  # fmt: skip
        form = urllib.parse.urlencode(
            {"username": profile["email"], "password": profile["password"]}
        )
        token = json.loads(call("POST", f"{base}/api/v1/auth/token", data=form.encode()))[
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        call("POST", f"{base}/api/v1/courses/{COURSE}/enroll", headers=auth)
        outline = json.loads(call("GET", f"{base}/api/v1/courses/{COURSE}"))
        lessons = [i["id"] for m in outline["modules"] for i in m["items"] if i["type"] == "lesson"]
        for lesson in lessons[:3]:
            call("POST", f"{base}/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
        cookie = f"ecampus_session={token}"
        lesson_path = f"/courses/{COURSE}/items/{lessons[3]}"

        wrk(f"http://127.0.0.1:{bare_port}/", 2, args.connections)  # warm up both
        wrk(base + lesson_path, 2, args.connections, cookie)
        bare = wrk(f"http://127.0.0.1:{bare_port}/", args.seconds, args.connections)
        lesson = wrk(base + lesson_path, args.seconds, args.connections, cookie)
        first = wire_bytes(base, lesson_path, cookie, assets=True)
        further = wire_bytes(base, f"/courses/{COURSE}/items/{lessons[4]}", cookie, assets=False)
        results = {
            "workers": args.workers,
            "connections": args.connections,
            "seconds": args.seconds,
            "bare_rps": round(bare),
            "lesson_rps": round(lesson),
            "ratio": round(lesson / bare, 3),
            "first_visit_bytes": first,
            "further_navigation_bytes": further,
        }
        print(f"bare FastAPI page      {bare:8.0f} req/s")
        print(
            f"logged-in lesson page  {lesson:8.0f} req/s   ({100 * lesson / bare:.1f} % of bare; target 30 %)"
        )
        print(f"first lesson visit     {first / 1024:8.1f} KB on the wire (target 60 KB)")
        print(f"next lesson (HTML)     {further / 1024:8.1f} KB on the wire (target 10 KB)")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
