"""Browser (end-to-end) fixtures: a real uvicorn server on a fresh SQLite file, the system Chromium.

Fixture names avoid pytest-playwright's (`browser`, `page`, `context`, `playwright`,
`base_url` ...), so that plugin never launches or downloads a browser of its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import string
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from ecampus import dbmigrate
from tests import liveserver
from tests.browser.helpers import (
    COURSE_ID,
    ROOT,
    Api,
    Learner,
    complete_course,
    register_learner,
    slug,
)
from tests.conftest import fresh_postgres_database, skip_or_fail

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DEFAULT_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    coordinator_email: str
    coordinator_password: str
    coordinator_name: str
    log_path: Path
    database: str = "sqlite"  # or "postgres"

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return liveserver.log_tail(self.log_path, 8000)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The app served by uvicorn in a subprocess, on a free port and a freshly migrated
    database: SQLite, then PostgreSQL (its own database, not the one other tests truncate)."""
    folder = tmp_path_factory.mktemp("e2e")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            database_url = f"sqlite:///{folder / 'e2e.db'}"
            dbmigrate.upgrade(database_url)
        else:
            database_url = stack.enter_context(fresh_postgres_database())
        yield from _serve(folder, database_url)


def _serve(folder: Path, database_url: str) -> Iterator[LiveServer]:
    port = liveserver.free_port()
    base_url = f"http://127.0.0.1:{port}"
    alphabet = string.ascii_letters + string.digits
    env = liveserver.with_tests_importable(
        {
            **os.environ,
            "ECAMPUS_ENV": "test",
            "ECAMPUS_SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(48)),
            "ECAMPUS_DATABASE_URL": database_url,
            "ECAMPUS_COURSES_DIR": str(ROOT / "courses"),
            "ECAMPUS_BASE_URL": base_url,
            "ECAMPUS_WATCH_COURSES": "false",
            # Every simulated person comes from 127.0.0.1: the per-address limits on sign-in and
            # registration (tests/web/test_throttling.py) would stop the suite, not an attacker.
            "ECAMPUS_RATE_LIMIT_EXEMPT": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    log_path = folder / "server.log"
    server = LiveServer(
        base_url=base_url,
        coordinator_email="coord@example.org",
        coordinator_password="coordinadora-" + secrets.token_hex(8),
        coordinator_name="Coordinadora Demo",
        log_path=log_path,
        database="sqlite" if database_url.startswith("sqlite") else "postgres",
    )

    created = subprocess.run(
        [*liveserver.cheap_passwords("ecampus.cli"), "users", "create", server.coordinator_email,
         "--role", "coordinator", "--full-name", server.coordinator_name, "--password-stdin"],
        input=server.coordinator_password + "\n",
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    if created.returncode != 0:
        pytest.fail(
            f"`ecampus users create` failed ({created.returncode}):\n"
            f"{created.stdout}\n{created.stderr}"
        )

    keys = subprocess.run(
        [sys.executable, "-m", "ecampus.cli", "keys", "generate"],
        env=env, cwd=folder, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if keys.returncode != 0:
        pytest.fail(f"`ecampus keys generate` failed ({keys.returncode}):\n{keys.stderr}")

    command = [*liveserver.cheap_passwords("uvicorn"), "ecampus.app:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with liveserver.running(
        command, env=env, cwd=folder, log_path=log_path, health_url=f"{base_url}/healthz"
    ):
        yield server


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """Debian's Chromium, driven by Playwright (which cannot download browsers here)."""
    if not CHROMIUM.exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


ContextFactory = Callable[..., BrowserContext]


@pytest.fixture
def browser_context(chromium_browser: Browser, live_server: LiveServer) -> Iterator[ContextFactory]:
    """Open fresh browser contexts (a person on a new device): Spanish, Guatemala, 1280x800
    unless told otherwise (`locale="en-US"` sends Accept-Language: en-US)."""
    opened: list[BrowserContext] = []

    def open_context(
        *, width: int = 1280, height: int = 800, javascript: bool = True, **options: Any
    ) -> BrowserContext:
        context = chromium_browser.new_context(
            base_url=live_server.base_url,
            viewport={"width": width, "height": height},
            locale=options.pop("locale", "es-GT"),
            timezone_id="America/Guatemala",
            java_script_enabled=javascript,
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


@dataclass(frozen=True)
class People:
    """Accounts that several read-only tests share (one set per live server)."""

    reader: Learner  # enrolled in COURSE_ID, nothing done: only ever looks at pages
    graduate: Learner  # finished COURSE_ID (with a certificate), began an English course
    certificate: str
    coordinator_token: str


ENGLISH_COURSE_ID = "labour-migration-basics"


@pytest.fixture(scope="session")
def people(live_server: LiveServer) -> People:
    reader = register_learner(live_server.base_url, prefix="reader", full_name="Ana Lucía Pérez")
    reader.api.call("POST", f"/api/v1/courses/{COURSE_ID}/enroll")
    graduate = register_learner(live_server.base_url, prefix="graduate", full_name="Rosa Ixcot")
    row = complete_course(graduate)
    graduate.api.call("POST", f"/api/v1/courses/{ENGLISH_COURSE_ID}/enroll")
    coordinator = Api(live_server.base_url).as_user(
        live_server.coordinator_email, live_server.coordinator_password
    )
    return People(reader, graduate, row["certificate"], token_of(coordinator))


def token_of(who: Learner | Api) -> str:
    api = who.api if isinstance(who, Learner) else who
    return api.headers["Authorization"].removeprefix("Bearer ")


def sign_in(context: BrowserContext, base_url: str, who: Learner | Api | str) -> None:
    """Log a browser context in with the session cookie the login form would set."""
    token = who if isinstance(who, str) else token_of(who)
    context.add_cookies([{"name": "ecampus_session", "value": token, "url": base_url}])


@pytest.fixture
def e2e_page(browser_context: ContextFactory) -> Page:
    """A page in a fresh desktop context with JavaScript on."""
    return browser_context().new_page()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot as test-artifacts/screenshots/<test>-<what>-<width>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, what: str) -> Path:
        width = (page.viewport_size or {"width": 0})["width"]
        path = SCREENSHOTS / f"{slug(request.node.originalname)}-{slug(what)}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the tail of the server's log to a failing browser test's report."""
    report = yield
    server = getattr(item, "funcargs", {}).get("live_server")
    if report.failed and isinstance(server, LiveServer):
        report.sections.append(("live server log (tail)", server.log()))
    return report
