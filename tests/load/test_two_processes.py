"""Two `ecampus serve` processes on one PostgreSQL database and one Redis, as a roll-out on
several machines runs behind a load balancer: any process answers any request.

A learner moves between the processes mid-course: signs in on A, reads and finishes lessons
on A and B in turn, uses up the quiz's attempts on both (the limit holds across them), and
signs out on A (B refuses the token at once). Failed sign-ins on A and B count towards one
limit, and an edit of the course files is seen by both within a bounded time. Then the same
journey goes through nginx in front of both (round robin, the proxy headers of
docs/operating.md), which alternates the processes request by request.

It needs PostgreSQL (ECAMPUS_TEST_POSTGRES_URL), Redis (ECAMPUS_TEST_REDIS_URL, default
redis://127.0.0.1:6379/0) and, for the last test, nginx: without them it skips, and in CI
(which installs them, .ci/run) it fails."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from ecampus.ratelimit import Limits
from tests import liveserver
from tests.conftest import FIXTURE_COURSES, SECRET, fresh_postgres_database, skip_or_fail
from tests.load.conftest import PASSWORD, make_learners

REDIS_URL = os.environ.get("ECAMPUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
COURSE = "demo-course"
QUIZ = "quiz-1"  # max_attempts: 3 in the fixture course
MAX_ATTEMPTS = 3
WATCH_SECONDS = 0.5
PUBLIC_URL = "http://campus.example.org"  # what the reverse proxy would serve
RELOAD_SECONDS = 30.0  # bound for both processes to show an edited course (slow CI machines)
WRONG = {"q1": "a", "q2": ["y"], "q3": False, "q4": "respuesta equivocada", "q5": 1007}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    method: str,
    url: str,
    *,
    token: str = "",
    cookie: str = "",
    form: dict[str, str] | None = None,
    body: Any = None,
    address: str = "",
) -> Answer:
    headers = {"Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers = {"Cookie": f"ecampus_session={cookie}"}
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if address:  # as the reverse proxy says who the client is (ECAMPUS_FORWARDED_ALLOW_IPS)
        headers["X-Forwarded-For"] = address
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            return Answer(response.status, lower(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, lower(exc.headers.items()), exc.read())


def lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


@dataclass
class Pair:
    a: str
    b: str
    courses: Path
    email: str  # the learner who moves between the processes
    locked: str  # the learner whose sign-ins fail (their account ends up throttled)
    proxied: str  # the learner who goes through nginx
    logs: list[Path]


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1) as connection:
            connection.ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not answering at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Pair]:
    """Processes A and B: one database, one Redis, one courses folder watched by both."""
    folder = tmp_path_factory.mktemp("two-processes")
    courses = folder / "courses"
    shutil.copytree(FIXTURE_COURSES, courses)
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(fresh_postgres_database())
        email, locked, proxied = make_learners(
            database_url, 3, prefix=f"mover-{secrets.token_hex(3)}-"
        )
        bases, logs = [], []
        for name in ("a", "b"):
            port = liveserver.free_port()
            base = f"http://127.0.0.1:{port}"
            env = {
                **os.environ,
                "ECAMPUS_ENV": "test",
                "ECAMPUS_SECRET_KEY": SECRET,  # identical on every process
                "ECAMPUS_DATABASE_URL": database_url,
                "ECAMPUS_COURSES_DIR": str(courses),
                # The public address, the same for every process: tokens name it as issuer.
                "ECAMPUS_BASE_URL": PUBLIC_URL,
                "ECAMPUS_WATCH_COURSES": "true",
                "ECAMPUS_WATCH_SECONDS": str(WATCH_SECONDS),
                "ECAMPUS_RATE_LIMIT_URL": redis_url,
                "ECAMPUS_FORWARDED_ALLOW_IPS": "127.0.0.1",
                "PYTHONUNBUFFERED": "1",
            }
            log = folder / f"server-{name}.log"
            command = [sys.executable, "-m", "ecampus.cli", "serve", "--host", "127.0.0.1",
                       "--port", str(port), "--workers", "1"]  # fmt: skip
            stack.enter_context(
                liveserver.running(
                    command, env=env, cwd=folder, log_path=log, health_url=f"{base}/healthz"
                )
            )
            bases.append(base)
            logs.append(log)
        yield Pair(bases[0], bases[1], courses, email, locked, proxied, logs)


def new_address() -> str:
    """A client address of the documentation range, new to the shared Redis counters."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def sign_in(base: str, email: str, password: str, address: str) -> Answer:
    form = {"username": email, "password": password}
    return call("POST", f"{base}/api/v1/auth/token", form=form, address=address)


def move_mid_course(a: str, b: str, email: str) -> set[str]:
    """Sign in on `a`, then alternate between `a` and `b` through lessons, the quiz's attempt
    limit and a sign-out; the processes that answered, as nginx names them (if it does)."""
    served: set[str] = set()

    def on(method: str, url: str, **kwargs: Any) -> Answer:
        answer = call(method, url, **kwargs)
        served.add(answer.headers.get("x-upstream", url.split("/")[2]))
        return answer

    address = new_address()
    signed_in = sign_in(a, email, PASSWORD, address)
    assert signed_in.status == 200, signed_in.body
    token = signed_in.json()["access_token"]
    course = f"/api/v1/courses/{COURSE}"

    assert on("POST", f"{b}{course}/enroll", token=token).status == 200
    # Lessons read and finished on A and B in turn: each sees what the other recorded.
    for base, lesson in ((a, "leccion-1"), (b, "leccion-2"), (a, "leccion-3")):
        page = on("GET", f"{base}/courses/{COURSE}/items/{lesson}", cookie=token)
        assert page.status == 200, (base, lesson, page.status)
        item = on("GET", f"{base}{course}/items/{lesson}", token=token)
        assert item.status == 200, item.body
        done = on("POST", f"{base}{course}/items/{lesson}/complete", token=token)
        assert done.status == 200, done.body
    progress = set()
    for base in (a, b):
        (enrolled,) = on("GET", f"{base}/api/v1/me/courses", token=token).json()
        assert enrolled["next_item"] == QUIZ, (base, enrolled)
        progress.add(enrolled["progress"])
    assert len(progress) == 1, progress
    assert progress != {0}

    # The quiz's three attempts, on A, B, A: the limit is counted in the database.
    for number, base in enumerate((a, b, a), start=1):
        graded = on("POST", f"{base}{course}/items/{QUIZ}/attempts", token=token,
                    body={"answers": WRONG})  # fmt: skip
        assert graded.status == 200, (number, graded.body)
        assert graded.json()["attempts_left"] == MAX_ATTEMPTS - number
    for base in (b, a):  # the next one is refused by either process
        refused = on("POST", f"{base}{course}/items/{QUIZ}/attempts", token=token,
                     body={"answers": WRONG})  # fmt: skip
        assert refused.status == 409, (base, refused.status, refused.body)
    for base in (a, b):
        (enrolled,) = on("GET", f"{base}/api/v1/me/courses", token=token).json()
        assert enrolled["blocked_item"] == QUIZ, (base, enrolled)

    # Signed out on A: B refuses the same token on its very next request, API and page.
    assert on("GET", f"{b}/api/v1/me", token=token).status == 200
    assert on("POST", f"{a}/api/v1/auth/logout", token=token).status == 204
    assert on("GET", f"{b}/api/v1/me", token=token).status == 401
    page = on("GET", f"{b}/courses/{COURSE}/items/leccion-1", cookie=token)
    assert page.status == 303
    assert "/login" in page.headers.get("location", "")
    assert on("GET", f"{a}/api/v1/me", token=token).status == 401
    return served


def test_a_learner_moves_between_processes_mid_course(pair: Pair) -> None:
    assert move_mid_course(pair.a, pair.b, pair.email) == {
        pair.a.removeprefix("http://"),
        pair.b.removeprefix("http://"),
    }


NGINX_CONF = """
master_process off;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/nginx-access.log;
    client_body_temp_path {folder}/nginx-body;
    proxy_temp_path {folder}/nginx-proxy;
    fastcgi_temp_path {folder}/nginx-fastcgi;
    uwsgi_temp_path {folder}/nginx-uwsgi;
    scgi_temp_path {folder}/nginx-scgi;
    upstream ecampus {{
        server {a};
        server {b};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 20m;
        location / {{
            proxy_pass http://ecampus;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            add_header X-Upstream $upstream_addr always;  # which process answered (the test)
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def proxy(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx in front of A and B, round robin, as docs/operating.md configures it (no TLS)."""
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None
    )
    if nginx is None:
        skip_or_fail("nginx is not installed (apt-get install nginx-light)")
    folder = tmp_path_factory.mktemp("nginx")
    port = liveserver.free_port()
    conf = folder / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            folder=folder,
            port=port,
            a=pair.a.removeprefix("http://"),
            b=pair.b.removeprefix("http://"),
        ),
        encoding="utf-8",
    )
    base = f"http://127.0.0.1:{port}"
    command = [str(nginx), "-p", str(folder), "-c", str(conf)]
    with liveserver.running(
        command, env=os.environ, cwd=folder, log_path=folder / "nginx.log",
        health_url=f"{base}/healthz",
    ):  # fmt: skip
        yield base


def test_behind_nginx_any_process_answers_any_request(pair: Pair, proxy: str) -> None:
    # nginx alternates the processes request by request: the learner's whole journey,
    # quiz limit and sign-out included, is served by both without either knowing.
    served = move_mid_course(proxy, proxy, pair.proxied)
    assert served == {pair.a.removeprefix("http://"), pair.b.removeprefix("http://")}
    # The per-account sign-in limit holds behind the proxy as well, and the client's address
    # reaches the apps (X-Forwarded-For from a trusted peer): their access logs name it, and
    # it is what the per-address limits count by.
    address = new_address()
    for _ in range(Limits().signin_account.amount):
        assert sign_in(proxy, pair.proxied, "not-the-password", address).status == 401
    assert sign_in(proxy, pair.proxied, "not-the-password", address).status == 429
    logged = "".join(liveserver.log_tail(log, size=200_000) for log in pair.logs)
    assert address in logged


def test_failed_sign_ins_on_both_processes_count_towards_one_limit(pair: Pair) -> None:
    limit = Limits().signin_account.amount
    address = new_address()
    for attempt in range(limit):  # A, B, A, B ...: each failure counted once, in Redis
        base = pair.a if attempt % 2 == 0 else pair.b
        failed = sign_in(base, pair.locked, "not-the-password", address)
        assert failed.status == 401, (attempt, failed.status, failed.body)
    for base in (pair.a, pair.b):
        refused = sign_in(base, pair.locked, "not-the-password", address)
        assert refused.status == 429, (base, refused.status, refused.body)
        assert int(refused.headers["retry-after"]) > 0
        # The right password is refused too while the account's limit is reached.
        assert sign_in(base, pair.locked, PASSWORD, address).status == 429


def test_a_course_edit_is_seen_by_both_processes(pair: Pair) -> None:
    course_file = pair.courses / COURSE / "course.yaml"
    text = course_file.read_text(encoding="utf-8")
    new_title = f"Primera lección, revisada {secrets.token_hex(3)}"
    assert "title: Primera lección\n" in text
    course_file.write_text(text.replace("title: Primera lección\n", f"title: {new_title}\n", 1))
    deadline = time.monotonic() + RELOAD_SECONDS
    seen: dict[str, str] = {}
    while time.monotonic() < deadline and len(seen) < 2:
        for base in (pair.a, pair.b):
            outline = call("GET", f"{base}/api/v1/courses/{COURSE}")
            assert outline.status == 200, outline.body
            titles = [i["title"] for m in outline.json()["modules"] for i in m["items"]]
            if new_title in titles:
                seen.setdefault(base, f"{RELOAD_SECONDS - (deadline - time.monotonic()):.1f} s")
        time.sleep(0.2)
    assert set(seen) == {pair.a, pair.b}, f"seen by {seen} within {RELOAD_SECONDS:.0f} s"
    for base in (pair.a, pair.b):  # the lesson page too, not only the outline
        page = call("GET", f"{base}/courses/{COURSE}")
        assert page.status == 200
        assert new_title.encode() in page.body
