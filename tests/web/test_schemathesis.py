"""schemathesis against the app's own OpenAPI document, on a live server: for requests generated
from the document, anonymous and as an admin, no answer is a 5xx and none has a status the
document does not list. A short, deterministic run (derandomized, a few examples per operation)
on SQLite only, to keep CI time low; the PostgreSQL paths are covered by the other web tests."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance
from sqlmodel import Session

from ecampus.accounts import service as accounts
from ecampus.accounts.models import Role
from ecampus.accounts.schemas import RegisterIn
from ecampus.certificates import keys
from ecampus.db import make_engine
from tests import factories, liveserver
from tests.conftest import FIXTURE_COURSES, SECRET

MAX_EXAMPLES = 8
CHECKS = [not_a_server_error, status_code_conformance]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[dict[str, str]]:
    """`ecampus serve` on a free port, with an admin account; yields its URL and credentials."""
    folder = tmp_path_factory.mktemp("schemathesis")
    database = folder / "ecampus.db"
    shutil.copy(sqlite_template, database)
    shutil.copytree(FIXTURE_COURSES, folder / "courses")
    url = f"sqlite:///{database}"
    admin = factories.profile()
    engine = make_engine(url)
    with Session(engine) as session:
        accounts.create_user(session, data=RegisterIn(**admin), role=Role.admin)
        keys.generate(session, secret=SECRET)  # credentials and status lists sign
    engine.dispose()
    port = liveserver.free_port()
    env = {
        **os.environ,
        "ECAMPUS_ENV": "test",
        "ECAMPUS_SECRET_KEY": SECRET,
        "ECAMPUS_DATABASE_URL": url,
        "ECAMPUS_COURSES_DIR": str(folder / "courses"),
        "ECAMPUS_BASE_URL": f"http://127.0.0.1:{port}",
        "ECAMPUS_WATCH_COURSES": "false",
        # Generated sign-ins would soon be throttled (a documented 429) and hide what follows.
        "ECAMPUS_RATE_LIMIT_EXEMPT": "127.0.0.1",
    }
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "ecampus.cli", "serve", "--port", str(port)]
    with liveserver.running(
        command, env=env, cwd=folder, log_path=folder / "server.log", health_url=f"{base}/healthz"
    ):
        yield {"url": base, "email": admin["email"], "password": admin["password"]}


def _token(base: str, email: str, password: str) -> dict[str, str]:
    response = requests.post(
        f"{base}/api/v1/auth/token", data={"username": email, "password": password}, timeout=30
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_generated_requests_get_no_5xx_and_only_documented_statuses(
    server: dict[str, str], who: str
) -> None:
    base = server["url"]
    headers = _token(base, server["email"], server["password"]) if who == "admin" else {}
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    # Signing out ends the admin's session: it goes last, so the others run signed in.
    operations.sort(key=lambda op: op.path == "/api/v1/auth/logout")
    with requests.Session() as http:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=base, session=http, headers=headers, checks=CHECKS)

            run()
