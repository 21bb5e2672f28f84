"""The issue's "done" on a real `ecampus serve`, with HTTP calls as curl makes them: a learner
completes a course, the credential is fetched and verified against /.well-known/jwks.json
alone (PyJWT), the status list says valid, a coordinator revokes it, the status list then
says revoked. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import jwt
import pytest

from ecampus.certificates import status
from tests import factories, liveserver
from tests.conftest import FIXTURE_COURSES, SECRET

ROOT = Path(__file__).resolve().parents[2]
COURSE = "demo-course"
KEY = {"q1": "b", "q2": ["x", "z"], "q3": True, "q4": " igm ", "q5": 7}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = liveserver.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ECAMPUS_ENV": "test",
        "ECAMPUS_SECRET_KEY": SECRET,
        "ECAMPUS_DATABASE_URL": database_url,
        "ECAMPUS_COURSES_DIR": str(FIXTURE_COURSES),
        "ECAMPUS_WATCH_COURSES": "false",
        "ECAMPUS_BASE_URL": base,
    }
    keys = cli("keys", "generate", env=env, cwd=tmp_path)
    assert "created signing key" in keys.stdout, keys.stderr
    command = [sys.executable, "-m", "ecampus.cli", "serve", "--port", str(port)]
    with liveserver.running(
        command,
        env=env,
        cwd=tmp_path,
        log_path=tmp_path / "server.log",
        health_url=f"{base}/healthz",
    ):
        yield base, env


def cli(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecampus.cli", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def guide_script(tmp_path: Path) -> Path:
    """docs/credentials.md's verification script, as a verifier copies it."""
    guide = (ROOT / "docs" / "credentials.md").read_text(encoding="utf-8")
    section = guide.split("### With Python (PyJWT)", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert code is not None
    script = tmp_path / "verify.py"
    script.write_text(code.group(1), encoding="utf-8")
    return script


def run_guide(script: Path, base: str, credential: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(script), base, str(credential)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def bearer(http: httpx.Client, email: str, password: str) -> dict[str, str]:
    answer = http.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def verified(http: httpx.Client, token: str) -> dict[str, Any]:
    key_set = http.get("/.well-known/jwks.json").json()
    key = jwt.PyJWKSet.from_dict(key_set)[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["ES256"])
    return claims


def revoked(http: httpx.Client, credential: dict[str, Any]) -> bool:
    entry = credential["credentialStatus"]
    listing = verified(http, http.get(entry["statusListCredential"]).text)
    bits = status.decode(listing["credentialSubject"]["encodedList"])
    return status.is_set(bits, int(entry["statusListIndex"]))


def test_fetch_verify_revoke_on_a_live_server(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = server
    with httpx.Client(base_url=base, timeout=30) as http:
        learner = factories.profile()
        assert http.post("/api/v1/auth/register", json=learner).status_code == 201
        auth = bearer(http, learner["email"], learner["password"])
        assert http.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
        for lesson in ("leccion-1", "leccion-2", "leccion-3"):
            done = http.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
            assert done.status_code == 200, done.text
        attempt = http.post(
            f"/api/v1/courses/{COURSE}/items/quiz-1/attempts", headers=auth, json={"answers": KEY}
        ).json()
        code = attempt["progress"]["certificate"]

        fetched = http.get(f"/api/v1/certificates/{code}/credential")
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == "application/vc+jwt"
        credential = verified(http, fetched.text)
        assert credential["iss"] == base
        assert credential["jti"] == f"{base}/verify/{code}"
        assert credential["credentialSubject"]["achievement"]["name"] == "Curso de prueba"
        assert revoked(http, credential) is False
        saved = tmp_path / "credential.jwt"
        saved.write_text(fetched.text, encoding="utf-8")
        script = guide_script(tmp_path)
        assert run_guide(script, base, saved).splitlines() == [
            f"Signature OK: {learner['full_name']} | Curso de prueba | 2.0 h | score ['100'] "
            f"| from {credential['validFrom']}",
            "Status: valid (not revoked)",
        ]

        cli("users", "create", "jefa@example.org", "--role", "coordinator", "--full-name",
            "Jefa de Programa", "--password-stdin", env=env, cwd=tmp_path,
            stdin="coordinator password\n")  # fmt: skip
        coordinator = bearer(http, "jefa@example.org", "coordinator password")
        answer = http.post(
            f"/api/v1/certificates/{code}/revoke",
            headers=coordinator,
            json={"reason": "issued in error"},
        )
        assert answer.status_code == 200, answer.text
        assert revoked(http, credential) is True
        assert run_guide(script, base, saved).splitlines()[-1] == "Status: REVOKED"
        # The credential the learner downloaded still verifies: it is the status that changed.
        assert verified(http, fetched.text)["jti"] == credential["jti"]
