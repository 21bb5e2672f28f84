"""`ecampus serve` hands uvicorn the trusted proxies and refuses a rate-limit store it cannot use.

(tests/web/test_body_limit.py runs the real server; this checks what it is started with.)
"""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

from ecampus.cli import main
from tests.conftest import SECRET


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("ECAMPUS_ENV", "test")
    monkeypatch.setenv("ECAMPUS_SECRET_KEY", SECRET)
    for name in ("ECAMPUS_RATE_LIMIT_URL", "ECAMPUS_RATE_LIMIT_EXEMPT"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_serve_passes_the_trusted_proxies_to_uvicorn(
    started: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECAMPUS_FORWARDED_ALLOW_IPS", raising=False)
    assert main(["serve"]) == 0
    assert started[-1]["loop"] == "ecampus.eventloop:new_event_loop"  # not uvloop
    assert started[-1]["proxy_headers"] is True
    assert started[-1]["forwarded_allow_ips"] == "127.0.0.1"
    monkeypatch.setenv("ECAMPUS_FORWARDED_ALLOW_IPS", "10.0.0.5,10.0.1.0/24")
    assert main(["serve"]) == 0
    assert started[-1]["forwarded_allow_ips"] == "10.0.0.5,10.0.1.0/24"


def test_several_workers_without_redis_are_warned(
    started: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--workers", "4"]) == 0
    assert "each of the 4 workers counts sign-in attempts on its own" in capsys.readouterr().err
    monkeypatch.setenv("ECAMPUS_RATE_LIMIT_URL", "redis://127.0.0.1:6379/0")
    assert main(["serve", "--workers", "4"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ECAMPUS_RATE_LIMIT_URL", "memcached://127.0.0.1:11211"),
        ("ECAMPUS_RATE_LIMIT_EXEMPT", "10.0.0.0/40"),
    ],
)
def test_serve_refuses_unusable_rate_limit_settings(
    started: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    assert name in capsys.readouterr().err
    assert started == []
