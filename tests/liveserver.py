"""The app served in a subprocess, for tests that need a real server (browsers, concurrency,
body limits, schemathesis): one way to pick a port, wait for /healthz and stop it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

STARTUP_SECONDS = 60.0
ROOT = Path(__file__).resolve().parent.parent


def cheap_passwords(module: str) -> list[str]:
    """`python -m module` with passwords hashed at argon2id's lowest cost, as in the pytest
    process (tests/cheap_passwords.py); its environment needs `with_tests_importable`."""
    return [sys.executable, "-m", "tests.cheap_passwords", module]


def with_tests_importable(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the repository on PYTHONPATH, so a subprocess can import tests.*."""
    path = [str(ROOT), *filter(None, [env.get("PYTHONPATH", os.environ.get("PYTHONPATH"))])]
    return {**env, "PYTHONPATH": os.pathsep.join(path)}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def log_tail(path: Path, size: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return "(no server log)"


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextlib.contextmanager
def running(
    command: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    health_url: str,
    startup_seconds: float = STARTUP_SECONDS,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command`, its output in `log_path`; yield once `health_url` answers 200."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + startup_seconds
        while not healthy(health_url):
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{log_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{health_url} did not answer 200 in {startup_seconds:.0f} s:\n"
                    f"{log_tail(log_path)}"
                )
            time.sleep(0.1)
        yield process
    finally:
        stop(process)
