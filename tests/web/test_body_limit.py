"""Request bodies are capped before parsing, in process and on a real `ecampus serve`."""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecampus.app import create_app
from ecampus.ratelimit import Limits
from ecampus.settings import Settings, SettingsError
from tests import factories, liveserver
from tests.conftest import FIXTURE_COURSES, SECRET, make_settings
from tests.web.test_pages import csrf

MB = 1_000_000


@pytest.fixture
def client(sqlite_template: Path, tmp_path: Path) -> Iterator[TestClient]:
    """The body limit involves no database: SQLite only."""
    shutil.copy(sqlite_template, tmp_path / "ecampus.db")
    settings = make_settings(f"sqlite:///{tmp_path / 'ecampus.db'}", FIXTURE_COURSES)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_an_api_body_over_the_limit_is_refused_before_the_route_runs(client: TestClient) -> None:
    data = factories.profile(full_name="x" * (2 * MB))
    refused = client.post("/api/v1/auth/register", json=data)
    assert refused.status_code == 413
    assert refused.json() == {"detail": "Request body too large: at most 1 MB"}
    # Nothing was created: the same email registers normally afterwards.
    assert (
        client.post("/api/v1/auth/register", json={**data, "full_name": "Ana"}).status_code == 201
    )


def test_a_body_without_a_length_is_counted_as_it_arrives(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b"[" + b"1," * (MB // 4) + b"1]"

    refused = client.post(
        "/api/v1/auth/register", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in refused.request.headers
    assert refused.status_code == 413
    assert refused.json()["detail"] == "Request body too large: at most 1 MB"


def test_a_page_says_so_in_the_readers_language(client: TestClient) -> None:
    token = csrf(client.get("/login").text)
    form = {"email": "a@example.org", "password": "x" * (2 * MB), "csrf_token": token}
    refused = client.post("/login", data=form)
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("text/html")
    assert "La solicitud es demasiado grande: como máximo 1 MB." in refused.text
    client.cookies.set("ecampus_lang", "en")
    assert "The request is too large: at most 1 MB." in client.post("/login", data=form).text


def test_imports_may_be_larger(client: TestClient) -> None:
    body = b"x" * (2 * MB)
    # Past the general limit, within the upload limit: the route decides (here, no such
    # cohort or no permission), not the body limit.
    answered = client.post("/api/v1/cohorts/none/import", content=body)
    assert answered.status_code not in (413, 500)
    refused = client.post("/api/v1/cohorts/none/import", content=b"x" * (21 * MB))
    assert refused.status_code == 413
    assert refused.json()["detail"] == "Request body too large: at most 20 MB"


def test_the_limits_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"ECAMPUS_MAX_BODY_BYTES": "2000000", "ECAMPUS_MAX_UPLOAD_BYTES": "50000000"}
    )
    assert (settings.max_body_bytes, settings.max_upload_bytes) == (2 * MB, 50 * MB)
    defaults = Settings.from_env({})
    assert (defaults.max_body_bytes, defaults.max_upload_bytes) == (MB, 20 * MB)
    assert defaults.forwarded_allow_ips == "127.0.0.1"
    assert defaults.rate_limit_url == ""
    with pytest.raises(SettingsError, match="ECAMPUS_MAX_BODY_BYTES"):
        Settings.from_env({"ECAMPUS_MAX_BODY_BYTES": "a lot"})


# A real server: `ecampus serve`, as operators run it.


@dataclass
class Served:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    shutil.copy(sqlite_template, folder / "ecampus.db")
    port = liveserver.free_port()
    env = {
        **os.environ,
        "ECAMPUS_ENV": "test",
        "ECAMPUS_SECRET_KEY": SECRET,
        "ECAMPUS_DATABASE_URL": f"sqlite:///{folder / 'ecampus.db'}",
        "ECAMPUS_COURSES_DIR": str(FIXTURE_COURSES),
        "ECAMPUS_WATCH_COURSES": "false",
        # The test connects from 127.0.0.1, which is then not a trusted proxy.
        "ECAMPUS_FORWARDED_ALLOW_IPS": "192.0.2.1",
    }
    log = folder / "server.log"
    command = [sys.executable, "-m", "ecampus.cli", "serve", "--port", str(port)]
    health = f"http://127.0.0.1:{port}/healthz"
    with liveserver.running(
        command, env=env, cwd=folder, log_path=log, health_url=health
    ) as process:
        yield Served(port, process, log)


def _response_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(65536)
        if not data:
            break
        head += data
    return head


def test_a_200_mb_stream_is_refused_without_reading_it(served: Served) -> None:
    total = 200 * 1024 * 1024
    chunk = b"7" * 65536
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    before = served.rss_kb()
    sent = 0
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # the server has answered
                sock.sendall(frame)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered and closed the connection while we were still sending
        head = _response_head(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    # It answered long before the end: what was sent is the limit plus what the operating
    # system's socket buffers took in meanwhile.
    assert sent < 40 * MB, sent
    assert served.rss_kb() - before < 30 * 1024, (before, served.rss_kb())


def test_a_declared_200_mb_body_is_refused_at_once(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 209715200\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        started = time.monotonic()
        head = _response_head(sock)  # not one byte of the body was sent
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"text/html" in head
    assert time.monotonic() - started < 5


def test_serve_trusts_forwarded_headers_only_from_the_configured_proxies(served: Served) -> None:
    """127.0.0.1 is not in ECAMPUS_FORWARDED_ALLOW_IPS here: however many addresses the
    requests claim in X-Forwarded-For, the registration limit counts them as one."""

    def register(email: str, n: int) -> int:
        body = json.dumps(factories.profile(email=email)).encode()
        request = urllib.request.Request(  # noqa: S310 - a local URL
            served.url("/api/v1/auth/register"),
            data=body,
            headers={"Content-Type": "application/json", "X-Forwarded-For": f"198.51.100.{n}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code

    allowed = Limits().registration.amount
    answers = [register("forwarded@example.org", n) for n in range(1, allowed + 2)]
    assert answers == [201] + [409] * (allowed - 1) + [429]
