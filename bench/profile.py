"""Where a benchmark target's time goes: py-spy samples one ecampus worker under wrk.

Sets up ecampus as bench/suite.py does (fresh database, bench course copy, learners signed in
through the API), loads each target with wrk and samples the server with py-spy, then prints
the share of samples spent in each layer (the usual suspects: middleware, dependency
resolution, the thread-pool hop, gzip, SQLAlchemy statement building, the driver, Jinja2)
and the busiest frames. With --gil (default) only the thread holding the GIL is sampled: the
CPU cost. With --wall every thread is sampled, idle ones too: where requests wait.

    python bench/profile.py [--targets "lesson page" catalogue] [--seconds 12] [--wall]
                            [--database-url postgresql://...]  (needs wrk and py-spy)

BENCH_SPY_NATIVE=1 adds C frames (py-spy --native: the garbage collector, system calls),
slowing the server down several times while it samples.

py-spy needs the right to read another process's memory (root, or ptrace_scope 0).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import suite

# A sample belongs to the layer of its innermost frame found here (the first match in this order).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("gzip", ("gzip.py", "zlib", "ecampus/web/compression")),
    ("Jinja2 rendering", ("jinja2/",)),
    ("SQLAlchemy statement building and compiling", ("sqlalchemy/sql/",)),
    ("SQLAlchemy ORM", ("sqlalchemy/orm/",)),
    (
        "database driver and SQLAlchemy engine",
        ("sqlalchemy/engine/", "sqlalchemy/pool/", "sqlite3", "psycopg"),
    ),
    (
        "token and session check",
        ("jose/", "ecampus/accounts/tokens.py", "ecampus/accounts/sessions.py"),
    ),
    ("pydantic validation and JSON encoding", ("pydantic", "jsonable_encoder", "json/")),
    ("FastAPI dependency resolution", ("fastapi/dependencies/",)),
    ("thread-pool hop (anyio worker threads)", ("anyio/", "threading.py", "concurrent/futures")),
    (
        "ecampus route and domain code",
        (
            "ecampus/web/routes/",
            "ecampus/learning/",
            "ecampus/quizzes/",
            "ecampus/progression/",
            "ecampus/courses/",
            "ecampus/web/views.py",
            "ecampus/web/pages.py",
            "ecampus/web/templating.py",
        ),
    ),
    ("FastAPI/Starlette request plumbing", ("fastapi/", "starlette/")),
    (
        "ecampus middleware",
        (
            "ecampus/web/sessions.py",
            "ecampus/web/language.py",
            "ecampus/web/bodylimit.py",
            "ecampus/app.py",
        ),
    ),
    ("uvicorn, httptools and the event loop", ("uvicorn/", "asyncio/", "uvloop")),
]


def layer_of(frames: list[str]) -> str:
    """The layer of the innermost frame that belongs to one (self time by layer)."""
    for frame in reversed(frames):
        for name, needles in LAYERS:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def short(frame: str) -> str:
    return re.sub(r"\(.*(?:site-packages|src|lib/python3\.\d+)/", "(", frame)


def summarise(raw: Path, top: int) -> list[str]:
    layers: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        layers[layer_of(frames)] += n
        leaves[short(frames[-1])] += n
    if not total:
        return ["  no samples (is py-spy allowed to read the server's memory?)"]
    lines = [f"  {total} samples; self time by layer (of the innermost frame in one):"]
    order = {name: i for i, (name, _needles) in enumerate(LAYERS)}
    for name, n in sorted(layers.items(), key=lambda kv: order.get(kv[0], 99)):
        lines.append(f"    {100 * n / total:5.1f} %  {name}")
    lines.append("  busiest frames (self time):")
    for frame, n in leaves.most_common(top):
        lines.append(f"    {100 * n / total:5.1f} %  {frame[:140]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--targets", nargs="+", default=[*suite.READS, *suite.WRITES],
                        choices=[*suite.READS, *suite.WRITES])  # fmt: skip
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--learners", type=int, default=64)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--wall", action="store_true", help="sample every thread, idle too")
    parser.add_argument("--database-url", default="",
                        help="an empty database to use (default: a temporary SQLite file)")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="copy py-spy's raw stacks to this folder")
    args = parser.parse_args()
    if args.seconds < 3 or args.connections < 1 or args.learners < 1:
        parser.error("--seconds must be at least 3, --connections and --learners at least 1")
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("bench: py-spy is not installed: .venv/bin/pip install py-spy")
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed; install it with:  sudo apt-get install wrk")

    with tempfile.TemporaryDirectory(prefix="ecampus-profile-") as tmp:
        folder = Path(tmp)
        courses = suite.bench_courses(folder)
        url = args.database_url or f"sqlite:///{folder}/profile.db"
        env = {**os.environ, **suite.app_env(url, courses), "PYTHONPATH": str(suite.ROOT)}
        subprocess.run([sys.executable, "-m", "ecampus.cli", "db", "upgrade"], env=env,
                       check=True, capture_output=True)  # fmt: skip
        port = suite.free_port()
        # One worker: uvicorn then serves in the process it starts, whose id py-spy needs.
        app = suite.serve("ecampus.cli:serve_app", port, 1, env)
        try:
            base = f"http://127.0.0.1:{port}"
            suite.wait_up(f"{base}/healthz", app)
            lessons = suite.lessons_of(base)
            tag = secrets.token_hex(3)
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                tokens = list(
                    pool.map(
                        lambda n: suite.make_learner(base, tag, n, lessons), range(args.learners)
                    )
                )
            plan = suite.app_plan(lessons, tokens, courses)
            for target in args.targets:
                requests = plan[target]
                suite.wrk(base, requests, 2, args.connections, folder)  # warm-up
                raw = folder / f"{target.replace(' ', '-')}.txt"
                mode = ["--idle"] if args.wall else ["--gil"]
                mode += ["--native"] if os.environ.get("BENCH_SPY_NATIVE") else []
                sampler = subprocess.Popen(
                    [spy, "record", *mode, "--rate", str(args.rate), "--duration",
                     str(args.seconds), "--format", "raw", "--output", str(raw),
                     "--pid", str(app.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                )  # fmt: skip
                time.sleep(0.5)
                result = suite.wrk(base, requests, args.seconds - 1, args.connections, folder)
                _out, err = sampler.communicate()
                rps = result["requests"] / (result["duration_us"] / 1e6)
                print(f"\n{target}: {rps:.0f} req/s while sampled")
                if sampler.returncode != 0 or not raw.exists():
                    print(f"  py-spy failed: {err.decode(errors='replace').strip()[:300]}")
                    continue
                print("\n".join(summarise(raw, args.top)), flush=True)
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy(raw, args.keep / raw.name)
        finally:
            suite.stop(app)


if __name__ == "__main__":
    main()
